/* fuzz vector_store_request: mutated JSON bodies of POST /v1/vector_stores (create, modify),
 * .../files, .../files/{id}, .../file_batches and .../search through the server's parsers
 * (src/serve/vector_store_request.h) under ASan/UBSan. Every body must be either accepted with
 * values in their documented ranges (chunking 100..4096 tokens with an overlap of at most half; file
 * ids strings; expires_after days 0 or 1..365; 1..2000 files in a batch; 1..50 results; a
 * non-empty query; filters evaluated without crashing) or refused with an OpenAI-shaped error. Usage: build/fuzz_vector_store_request [ITERATIONS] (default 2000). */
#include "fuzz_api.h"
#include "fuzz_util.h"
#include "retrieval/retrieval.h"
#include "serve/vector_store_filter.h"
#include "serve/vector_store_request.h"

#define SEED 0x7ec5u
#define BODY_MAX 4096

static const char *const SEEDS[] = {
    "{\"name\":\"kb\",\"file_ids\":[\"file-a\",\"file-b\"],\"metadata\":{\"k\":\"v\"},\"chunking_strategy\":{\"type\":"
    "\"static\",\"static\":{\"max_chunk_size_tokens\":800,\"chunk_overlap_tokens\":400}},\"expires_after\":null}",
    "{\"file_id\":\"file-a\",\"chunking_strategy\":{\"type\":\"auto\"},\"attributes\":{\"lang\":\"en\",\"n\":3}}",
    "{\"query\":[\"lost card\",\"refund\"],\"max_num_results\":5,\"ranking_options\":{\"ranker\":\"auto\","
    "\"score_threshold\":0.2},\"rewrite_query\":false,\"filters\":null}",
    "{\"query\":\"hello\"}",
    "{\"name\":null,\"metadata\":{\"a\":\"b\"},\"expires_after\":{\"anchor\":\"last_active_at\",\"days\":7}}",
    "{\"file_ids\":[\"file-a\",\"file-b\"],\"attributes\":{\"year\":2024,\"ok\":true},\"chunking_strategy\":"
    "{\"type\":\"auto\"}}",
    "{\"files\":[{\"file_id\":\"file-a\",\"attributes\":{\"k\":\"v\"}},{\"file_id\":\"file-b\"}]}",
    "{\"query\":\"q\",\"filters\":{\"type\":\"and\",\"filters\":[{\"type\":\"gte\",\"key\":\"year\",\"value\":2020},"
    "{\"type\":\"or\",\"filters\":[{\"type\":\"in\",\"key\":\"lang\",\"value\":[\"en\",\"fr\"]},{\"type\":\"ne\","
    "\"key\":\"ok\",\"value\":false}]}]}}",
    "{\"attributes\":{\"lang\":\"en\"}}",
};
#define N_SEEDS (sizeof SEEDS / sizeof SEEDS[0])

static bool chunking_ok(int max, int overlap) {
    return max >= RETRIEVAL_CHUNK_MIN && max <= RETRIEVAL_CHUNK_MAX && overlap >= 0 && overlap <= max / 2;
}

static void fail_accepted(const char *what, const char *body, size_t len) {
    fprintf(stderr, "accepted a %s request out of range: %.*s\n", what, (int)len, body);
    exit(1);
}

static void run(const char *body, size_t len) {
    ApiError e = {0};
    VsCreateRequest cr;
    if (vs_create_request_parse(body, len, &cr, &e) == 0) {
        bool ok = chunking_ok(cr.chunk_max, cr.chunk_overlap) && (!cr.name || strlen(cr.name) < VS_NAME_MAX);
        for (size_t i = 0; ok && i < json_array_size(cr.file_ids); i++) ok = json_is_string(json_array_get(cr.file_ids, i));
        if (!ok) fail_accepted("create", body, len);
    } else {
        fuzz_check_api_error(&e);
    }
    vs_create_request_free(&cr);
    VsAttachRequest ar;
    if (vs_attach_request_parse(body, len, &ar, &e) == 0) {
        if (!ar.file_id || !ar.file_id[0] || !chunking_ok(ar.chunk_max, ar.chunk_overlap)) fail_accepted("attach", body, len);
    } else {
        fuzz_check_api_error(&e);
    }
    vs_attach_request_free(&ar);
    VsSearchRequest sr;
    if (vs_search_request_parse(body, len, &sr, &e) == 0) {
        if (!sr.text || !sr.text[0] || sr.max_results < 1 || sr.max_results > RETRIEVAL_MAX_RESULTS ||
            sr.score_threshold < 0 || sr.score_threshold > 1 || json_array_size(sr.queries) < 1)
            fail_accepted("search", body, len);
    } else {
        fuzz_check_api_error(&e);
    }
    if (sr.filters) { /* evaluated against attributes made of the body itself */
        json_t *attrs = json_loads(body, JSON_DISABLE_EOF_CHECK, NULL);
        (void)vs_filter_match(sr.filters, json_is_object(attrs) ? attrs : NULL);
        json_decref(attrs);
    }
    vs_search_request_free(&sr);
    VsModifyRequest mr;
    if (vs_modify_request_parse(body, len, &mr, &e) == 0) {
        if (mr.expires_days < 0 || mr.expires_days > VS_EXPIRES_DAYS_MAX || (mr.name && strlen(mr.name) >= VS_NAME_MAX))
            fail_accepted("modify", body, len);
    } else {
        fuzz_check_api_error(&e);
    }
    vs_modify_request_free(&mr);
    VsBatchRequest br;
    if (vs_batch_request_parse(body, len, &br, &e) == 0) {
        bool ok = br.n >= 1 && br.n <= VS_MAX_BATCH_FILES;
        for (int i = 0; ok && i < br.n; i++)
            ok = br.files[i].file_id && br.files[i].file_id[0] && chunking_ok(br.files[i].chunk_max, br.files[i].chunk_overlap);
        if (!ok) fail_accepted("file batch", body, len);
    } else {
        fuzz_check_api_error(&e);
    }
    vs_batch_request_free(&br);
    VsAttributesRequest tr;
    if (vs_attributes_request_parse(body, len, &tr, &e) == 0) {
        if (tr.attributes && !json_is_object(tr.attributes)) fail_accepted("attributes", body, len);
    } else {
        fuzz_check_api_error(&e);
    }
    vs_attributes_request_free(&tr);
}

int main(int argc, char **argv) { return fuzz_bodies(argc, argv, "fuzz_vector_store_request", SEED, SEEDS, N_SEEDS, BODY_MAX, run); }
