/* vector_store_tasks.c: the work of vector stores that computes, run as tasks on the embedding
 * thread (src/worker/embedder.h) with its encoder and its own store connection: attaching a file
 * (read its blob, chunk it statically by the model's tokens, embed the chunks a step of at most
 * VS_STEP_TOKENS tokens at a time, so that other requests run between steps, then store them with
 * the file's status in one transaction; the files of one task one after the other) and searching
 * (embed the query, rank the store's chunks by cosine and BM25 restricted to the files whose
 * attributes pass the request's filters, answer the deferred HTTP response with the results page). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../data/utf8_check.h"
#include "../retrieval/retrieval.h"
#include "vector_store_filter.h"
#include "vector_stores.h"

#define VS_FTS_CANDIDATES 200                /* full-text hits merged with the cosine ranking */
#define VS_STEP_TOKENS 8192                  /* tokens of chunks embedded in one step of a file's task */
#define VS_STEP_MAX_CHUNKS 1024

/* ---- attaching a file ---- */

/* The first step: the current file's text, checked and chunked; its chunks' vectors allocated. */
static int ingest_start(VsIngest *a, const FtEncoder *enc, Store *s, Err *err) {
    const VsIngestFile *f = &a->files[a->cur];
    char path[4096];
    store_file_path(s, f->file_id, path, sizeof path);
    if (file_read_all(path, VS_MAX_FILE_BYTES, &a->text, &a->len, err)) return -1;
    size_t bad = utf8_find_invalid(a->text, a->len);
    if (bad != a->len)
        return err_set(err, ERR_FORMAT, "The file is not UTF-8 text (byte %zu); vector stores take text, Markdown "
                                        "and JSONL files.", bad + 1);
    if (retrieval_chunk(enc, a->text, a->len, f->chunk_max, f->chunk_overlap, &a->chunks, &a->n, err)) return -1;
    FtEncoderInfo info;
    ft_encoder_info(enc, &info);
    a->dim = info.dim;
    a->vecs = malloc((size_t)(a->n ? a->n : 1) * a->dim * sizeof *a->vecs);
    return a->vecs ? 0 : err_set(err, ERR_NOMEM, "out of memory for %d chunks", a->n);
}

/* The next chunks, up to VS_STEP_TOKENS tokens. */
static int ingest_step(VsIngest *a, const FtEncoder *enc, int n_threads, Err *err) {
    int count = 0;
    long tokens = 0;
    while (a->next + count < a->n && (count == 0 || tokens + a->chunks[a->next + count].n_ids <= VS_STEP_TOKENS))
        tokens += a->chunks[a->next + count++].n_ids;
    const int32_t *ids[VS_STEP_MAX_CHUNKS];
    int n_ids[VS_STEP_MAX_CHUNKS];
    if (count > VS_STEP_MAX_CHUNKS) count = VS_STEP_MAX_CHUNKS;
    for (int i = 0; i < count; i++) {
        ids[i] = a->chunks[a->next + i].ids;
        n_ids[i] = a->chunks[a->next + i].n_ids;
    }
    if (retrieval_embed(enc, ids, n_ids, count, n_threads, a->vecs + (size_t)a->next * a->dim, err)) return -1;
    a->next += count;
    return 0;
}

static int ingest_store(VsIngest *a, Store *s, Err *err) {
    VectorChunkIn *rows = malloc((size_t)(a->n ? a->n : 1) * sizeof *rows);
    if (!rows) return err_set(err, ERR_NOMEM, "out of memory for %d chunks", a->n);
    for (int i = 0; i < a->n; i++)
        rows[i] = (VectorChunkIn){a->text + a->chunks[i].start, a->chunks[i].end - a->chunks[i].start,
                                  a->vecs + (size_t)i * a->dim};
    int rc = store_vs_file_finish(s, a->store_id, a->files[a->cur].file_id, rows, a->n, a->dim, NULL, err);
    free(rows);
    return rc == STORE_NOT_FOUND ? 0 : rc; /* detached or cancelled meanwhile: nothing to keep */
}

/* Marks the current file failed with why. */
static void ingest_fail(VsIngest *a, Store *s, const char *why) {
    Err ignored = {0};
    if (store_vs_file_finish(s, a->store_id, a->files[a->cur].file_id, NULL, 0, 0, why, &ignored) < 0)
        fprintf(stderr, "ftune serve: vector store %s: file %s could not be marked failed (%s): %s\n", a->store_id,
                a->files[a->cur].file_id, why, ignored.msg);
}

/* Drops the current file's progress and moves to the next file. */
static void ingest_next(VsIngest *a) {
    retrieval_chunks_free(a->chunks, a->n);
    free(a->text);
    free(a->vecs);
    a->chunks = NULL, a->text = NULL, a->vecs = NULL;
    a->n = a->next = 0;
    a->len = 0;
    a->started = false;
    a->cur++;
}

static int ingest_free(VsIngest *a) {
    retrieval_chunks_free(a->chunks, a->n);
    free(a->text);
    free(a->vecs);
    free(a->files);
    free(a);
    return 0;
}

int vs_ingest_task(void *arg, const FtEncoder *enc, int n_threads, Store *s, const char *error) {
    VsIngest *a = arg;
    if (!s) return ingest_free(a); /* stopping: the files stay in_progress and are failed at the next start */
    if (error) {
        for (; a->cur < a->n_files; a->cur++) ingest_fail(a, s, error);
        return ingest_free(a);
    }
    while (a->cur < a->n_files) {
        Err err = {0};
        VectorFileRecord still;
        int rc = store_vs_file_get(s, a->store_id, a->files[a->cur].file_id, &still, &err);
        if (rc == STORE_NOT_FOUND || (rc == 0 && strcmp(still.status, "in_progress"))) {
            ingest_next(a); /* detached, cancelled (or its store deleted): no more work for it */
            continue;
        }
        if (!rc && !a->started) {
            rc = ingest_start(a, enc, s, &err);
            a->started = true;
        } else if (!rc && a->next < a->n) {
            rc = ingest_step(a, enc, n_threads, &err);
        }
        if (!rc && a->next < a->n) return 1; /* more to embed: behind the others */
        if (!rc) rc = ingest_store(a, s, &err);
        if (rc) ingest_fail(a, s, err.msg);
        ingest_next(a);
        return a->cur < a->n_files ? 1 : ingest_free(a);
    }
    return ingest_free(a);
}

/* ---- the matrices of recent stores ---- */

typedef struct {
    char store_id[STORE_ID_MAX];
    long long count, max_id;  /* the version it was read at */
    int64_t *ids;
    float *vecs;              /* (n, dim) */
    int n, dim;
    unsigned long long used;
} CachedMatrix;

struct VsMatrixCache {
    CachedMatrix e[VS_CACHE_STORES];
    unsigned long long clock;
};

VsMatrixCache *vs_cache_new(void) { return calloc(1, sizeof(VsMatrixCache)); }

static void entry_drop(CachedMatrix *m) {
    free(m->ids);
    free(m->vecs);
    memset(m, 0, sizeof *m);
}

void vs_cache_free(VsMatrixCache *c) {
    if (!c) return;
    for (int i = 0; i < VS_CACHE_STORES; i++) entry_drop(&c->e[i]);
    free(c);
}

static size_t entry_bytes(const CachedMatrix *m) { return (size_t)m->n * ((size_t)m->dim * sizeof(float) + sizeof(int64_t)); }

/* The store's vectors: from the cache while its chunks are unchanged, else read (and cached when they
 * fit). *owned: the caller frees *ids and *vecs (not cached). */
static int store_matrix(VsMatrixCache *c, Store *s, const char *store_id, int dim, int64_t **ids, float **vecs, int *n,
                        bool *owned, Err *err) {
    long long count, max_id;
    if (store_vs_version(s, store_id, &count, &max_id, err)) return -1;
    CachedMatrix *slot = NULL;
    for (int i = 0; c && i < VS_CACHE_STORES; i++) {
        CachedMatrix *m = &c->e[i];
        if (m->vecs && !strcmp(m->store_id, store_id)) {
            if (m->count == count && m->max_id == max_id && m->dim == dim) {
                m->used = ++c->clock;
                *ids = m->ids, *vecs = m->vecs, *n = m->n, *owned = false;
                return 0;
            }
            entry_drop(m); /* changed since */
        }
    }
    if (store_vs_vectors(s, store_id, dim, ids, vecs, n, err)) return -1;
    *owned = true;
    CachedMatrix fresh = {.count = count, .max_id = max_id, .ids = *ids, .vecs = *vecs, .n = *n, .dim = dim};
    if (!c || !*n || entry_bytes(&fresh) > VS_CACHE_BYTES) return 0;
    for (;;) { /* room: a free slot and the bytes, dropping the least recently used */
        size_t total = entry_bytes(&fresh);
        slot = NULL;
        CachedMatrix *lru = NULL;
        for (int i = 0; i < VS_CACHE_STORES; i++) {
            CachedMatrix *m = &c->e[i];
            total += entry_bytes(m);
            if (!m->vecs && !slot) slot = m;
            if (m->vecs && (!lru || m->used < lru->used)) lru = m;
        }
        if (slot && total <= VS_CACHE_BYTES) break;
        entry_drop(lru);
    }
    snprintf(fresh.store_id, sizeof fresh.store_id, "%s", store_id);
    fresh.used = ++c->clock;
    *slot = fresh;
    *owned = false;
    return 0;
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
        if (hits[i].score < q->req.score_threshold) break;
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
                     q->req.queries, "data", data, "has_more", false, "next_page");
}

static const int64_t NO_CHUNK = 0; /* the allowed list of a filter no file passes (n_allow 0) */

/* store_vs_chunks_where's test: the file's attributes pass the request's filters. */
static bool passes(const char *file_id, const char *attributes, void *user) {
    (void)file_id;
    json_t *attrs = attributes[0] ? json_loads(attributes, 0, NULL) : NULL;
    bool ok = vs_filter_match(user, attrs);
    json_decref(attrs);
    return ok;
}

static int search(VsSearch *q, const FtEncoder *enc, int n_threads, Store *s, json_t **page, Err *err) {
    FtEncoderInfo info;
    ft_encoder_info(enc, &info);
    int32_t *qids = NULL;
    int n_q = 0;
    FtError fe = {0};
    if (ft_encoder_tokenize(enc, q->req.text, strlen(q->req.text), &qids, &n_q, &fe)) return err_set(err, fe.code, "%s", fe.msg);
    float *qv = malloc((size_t)info.dim * sizeof *qv);
    int64_t *ids = NULL, *fts_ids = NULL, *allow = NULL;
    float *vecs = NULL, *scratch = NULL;
    double *fts_scores = NULL;
    RankHit *hits = NULL;
    int n = 0, n_fts = 0, n_allow = 0, rc = qv ? 0 : err_set(err, ERR_NOMEM, "out of memory");
    bool owned = false;
    const int32_t *qp = qids;
    if (!rc) rc = retrieval_embed(enc, &qp, &n_q, 1, n_threads, qv, err);
    if (!rc) rc = store_matrix(q->cache, s, q->store_id, info.dim, &ids, &vecs, &n, &owned, err);
    if (!rc) rc = store_vs_text_search(s, q->store_id, q->req.text, VS_FTS_CANDIDATES, &fts_ids, &fts_scores, &n_fts, err);
    if (!rc && q->req.filters) rc = store_vs_chunks_where(s, q->store_id, passes, q->req.filters, &allow, &n_allow, err);
    if (!rc && n) {
        scratch = malloc((size_t)n * sizeof *scratch);
        hits = malloc((size_t)q->req.max_results * sizeof *hits);
        if (!scratch || !hits) rc = err_set(err, ERR_NOMEM, "out of memory for %d chunks", n);
    }
    int kept = !rc && n ? retrieval_rank(vecs, ids, n, info.dim, qv, fts_ids, fts_scores, n_fts,
                                         q->req.filters ? (allow ? allow : &NO_CHUNK) : NULL, n_allow, q->req.max_results,
                                         hits, scratch)
                        : 0;
    if (!rc) {
        *page = results_page(q, s, hits, kept, err);
        if (!*page) rc = -1;
    }
    ft_free(qids);
    if (owned) free(ids), free(vecs);
    free(qv), free(fts_ids), free(fts_scores), free(scratch), free(hits), free(allow);
    return rc;
}

int vs_search_task(void *arg, const FtEncoder *enc, int n_threads, Store *s, const char *error) {
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
    return 0;
}

void vs_search_free(VsSearch *q) {
    vs_search_request_free(&q->req);
    free(q);
}
