/* vector_store_tasks.c: the work of vector stores that computes, run as tasks on the embedding
 * thread (src/worker/embedder.h) with its encoder and its own store connection: attaching a file
 * (read its blob, chunk it statically by the model's tokens, embed the chunks, store them with the
 * file's status in one transaction) and searching (embed the query, rank the store's chunks by
 * cosine and BM25, answer the deferred HTTP response with the results page). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../data/utf8_check.h"
#include "../retrieval/retrieval.h"
#include "vector_stores.h"

#define VS_MAX_FILE_BYTES ((size_t)64 << 20) /* the largest file a store takes */
#define VS_FTS_CANDIDATES 200                /* full-text hits merged with the cosine ranking */

/* ---- attaching a file ---- */

static int ingest(const VsIngest *a, const FtEncoder *enc, int n_threads, Store *s, Err *err) {
    char *text = NULL;
    size_t len = 0;
    if (file_read_all(a->blob_path, VS_MAX_FILE_BYTES, &text, &len, err)) return -1;
    size_t bad = utf8_find_invalid(text, len);
    if (bad != len) {
        free(text);
        return err_set(err, ERR_FORMAT, "The file is not UTF-8 text (byte %zu); vector stores take text, Markdown "
                                        "and JSONL files.", bad + 1);
    }
    TextChunk *chunks;
    int n;
    if (retrieval_chunk(enc, text, len, a->chunk_max, a->chunk_overlap, &chunks, &n, err)) {
        free(text);
        return -1;
    }
    FtEncoderInfo info;
    ft_encoder_info(enc, &info);
    const int32_t **ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
    int *n_ids = malloc((size_t)(n ? n : 1) * sizeof *n_ids);
    float *vecs = malloc((size_t)(n ? n : 1) * info.dim * sizeof *vecs);
    VectorChunkIn *rows = malloc((size_t)(n ? n : 1) * sizeof *rows);
    int rc = ids && n_ids && vecs && rows ? 0 : err_set(err, ERR_NOMEM, "out of memory for %d chunks", n);
    for (int i = 0; !rc && i < n; i++) {
        ids[i] = chunks[i].ids;
        n_ids[i] = chunks[i].n_ids;
        rows[i] = (VectorChunkIn){text + chunks[i].start, chunks[i].end - chunks[i].start, vecs + (size_t)i * info.dim};
    }
    if (!rc && n) rc = retrieval_embed(enc, ids, n_ids, n, n_threads, vecs, err);
    if (!rc) {
        rc = store_vs_file_finish(s, a->store_id, a->file_id, rows, n, info.dim, NULL, err);
        if (rc == STORE_NOT_FOUND) rc = 0; /* detached meanwhile: nothing to keep */
    }
    free(ids), free(n_ids), free(vecs), free(rows);
    retrieval_chunks_free(chunks, n);
    free(text);
    return rc;
}

void vs_ingest_task(void *arg, const FtEncoder *enc, int n_threads, Store *s, const char *error) {
    VsIngest *a = arg;
    Err err = {0};
    if (!s) { /* stopping: the file stays in_progress and is failed at the next start */
        free(a);
        return;
    }
    if (error || ingest(a, enc, n_threads, s, &err)) {
        Err ignored = {0};
        const char *why = error ? error : err.msg;
        if (store_vs_file_finish(s, a->store_id, a->file_id, NULL, 0, 0, why, &ignored) < 0)
            fprintf(stderr, "ftune serve: vector store %s: file %s could not be marked failed (%s): %s\n", a->store_id,
                    a->file_id, why, ignored.msg);
    }
    free(a);
}

/* ---- search ---- */

static void answer_error(VsSearch *q, int status, const char *type, const char *message) {
    ApiError e = {.status = status, .type = type};
    snprintf(e.message, sizeof e.message, "%s", message);
    if (status >= 500) http_stream_cause(q->stream, message);
    size_t len;
    char *body = api_error_json(&e, &len);
    http_stream_finish(q->stream, status, body, len);
}

/* The results page of hits (n of them, best first). */
static json_t *results_page(const VsSearch *q, Store *s, const RankHit *hits, int n, Err *err) {
    json_t *data = json_array();
    for (int i = 0; i < n; i++) {
        if (hits[i].score < q->score_threshold) break;
        char file_id[STORE_ID_MAX], *text = NULL;
        if (store_vs_chunk(s, hits[i].id, file_id, &text, err) < 0) {
            json_decref(data);
            return NULL;
        }
        FileRecord f;
        VectorFileRecord vf;
        Err ignored = {0};
        const char *filename = store_file_get(s, file_id, &f, &ignored) == 0 ? f.filename : "";
        json_t *attrs = store_vs_file_get(s, q->store_id, file_id, &vf, &ignored) == 0 && vf.attributes[0]
                            ? json_loads(vf.attributes, 0, NULL)
                            : NULL;
        json_array_append_new(data, json_pack("{s:s, s:s, s:f, s:o, s:[{s:s, s:s}]}", "file_id", file_id, "filename",
                                              filename, "score", (double)hits[i].score, "attributes",
                                              attrs ? attrs : json_object(), "content", "type", "text", "text",
                                              text ? text : ""));
        free(text);
    }
    return json_pack("{s:s, s:O, s:o, s:b, s:n}", "object", "vector_store.search_results.page", "search_query",
                     q->queries, "data", data, "has_more", false, "next_page");
}

static int search(VsSearch *q, const FtEncoder *enc, int n_threads, Store *s, json_t **page, Err *err) {
    FtEncoderInfo info;
    ft_encoder_info(enc, &info);
    int32_t *qids = NULL;
    int n_q = 0;
    FtError fe = {0};
    if (ft_encoder_tokenize(enc, q->text, strlen(q->text), &qids, &n_q, &fe)) return err_set(err, fe.code, "%s", fe.msg);
    float *qv = malloc((size_t)info.dim * sizeof *qv);
    int64_t *ids = NULL, *fts_ids = NULL;
    float *vecs = NULL, *scratch = NULL;
    double *fts_scores = NULL;
    RankHit *hits = NULL;
    int n = 0, n_fts = 0, rc = qv ? 0 : err_set(err, ERR_NOMEM, "out of memory");
    const int32_t *qp = qids;
    if (!rc) rc = retrieval_embed(enc, &qp, &n_q, 1, n_threads, qv, err);
    if (!rc) rc = store_vs_vectors(s, q->store_id, info.dim, &ids, &vecs, &n, err);
    if (!rc) rc = store_vs_text_search(s, q->store_id, q->text, VS_FTS_CANDIDATES, &fts_ids, &fts_scores, &n_fts, err);
    if (!rc && n) {
        scratch = malloc((size_t)n * sizeof *scratch);
        hits = malloc((size_t)q->max_results * sizeof *hits);
        if (!scratch || !hits) rc = err_set(err, ERR_NOMEM, "out of memory for %d chunks", n);
    }
    int kept = !rc && n ? retrieval_rank(vecs, ids, n, info.dim, qv, fts_ids, fts_scores, n_fts, q->max_results, hits,
                                         scratch)
                        : 0;
    if (!rc) {
        *page = results_page(q, s, hits, kept, err);
        if (!*page) rc = -1;
    }
    ft_free(qids);
    free(qv), free(ids), free(vecs), free(fts_ids), free(fts_scores), free(scratch), free(hits);
    return rc;
}

void vs_search_task(void *arg, const FtEncoder *enc, int n_threads, Store *s, const char *error) {
    VsSearch *q = arg;
    Err err = {0};
    json_t *page = NULL;
    if (error) { /* no store: the thread is stopping; else the encoder could not be loaded */
        answer_error(q, s ? 500 : 503, "server_error", error);
    } else if (search(q, enc, n_threads, s, &page, &err)) {
        answer_error(q, 500, "server_error", err.msg);
    } else {
        char *body = json_dumps(page, JSON_COMPACT);
        json_decref(page);
        if (body) http_stream_finish(q->stream, 200, body, strlen(body));
        else answer_error(q, 500, "server_error", "out of memory writing the results");
    }
    vs_search_free(q);
}

void vs_search_free(VsSearch *q) {
    json_decref(q->queries);
    free(q->text);
    free(q);
}
