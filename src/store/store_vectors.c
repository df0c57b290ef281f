/* store_vectors.c: vector stores (see store.h): the stores, their files and the files' chunks
 * (text, embedding as hex text of little-endian float32) with a full-text index: on SQLite an
 * external-content FTS5 table kept by triggers (BM25), on PostgreSQL a GIN index of
 * to_tsvector('simple', text) (ts_rank). Schema version 7 (store_vectors_schema, run by
 * ensure_schema on older databases). It does not chunk, embed or rank (src/retrieval/): it stores
 * and reads back. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define VS_COLS "id, project, name, created_at, last_active_at, metadata, model"
#define VSF_COLS "store_id, file_id, created_at, status, last_error, usage_bytes, chunk_max, chunk_overlap, attributes"
#define FTS_MAX_TERMS 64      /* words of a query used for full-text search */
#define FTS_QUERY_MAX 8192    /* bytes of the FTS5 query built from them */

int store_vectors_schema(Store *s, Err *err) {
    int rc = store_exec(
        s,
        "CREATE TABLE IF NOT EXISTS vector_stores ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, project TEXT NOT NULL, name TEXT,"
        " created_at INTEGER NOT NULL, last_active_at INTEGER NOT NULL, metadata TEXT, model TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS vector_stores_project ON vector_stores(project, seq);"
        "CREATE TABLE IF NOT EXISTS vector_store_files ("
        " seq INTEGER PRIMARY KEY AUTOINCREMENT, store_id TEXT NOT NULL, file_id TEXT NOT NULL,"
        " created_at INTEGER NOT NULL, status TEXT NOT NULL, last_error TEXT, usage_bytes INTEGER NOT NULL DEFAULT 0,"
        " chunk_max INTEGER NOT NULL, chunk_overlap INTEGER NOT NULL, attributes TEXT, UNIQUE (store_id, file_id));"
        "CREATE TABLE IF NOT EXISTS vector_chunks ("
        " id INTEGER PRIMARY KEY AUTOINCREMENT, store_id TEXT NOT NULL, file_id TEXT NOT NULL, seq INTEGER NOT NULL,"
        " text TEXT NOT NULL, embedding TEXT NOT NULL);"
        "CREATE INDEX IF NOT EXISTS vector_chunks_store ON vector_chunks(store_id, file_id);",
        "create the vector store tables", err);
    if (rc) return rc;
    if (db_kind(s->db) == DB_POSTGRES)
        return store_exec(s,
                          "CREATE INDEX IF NOT EXISTS vector_chunks_text ON vector_chunks"
                          " USING GIN (to_tsvector('simple', text));",
                          "create the vector chunks' text index", err);
    return store_exec(
        s,
        "CREATE VIRTUAL TABLE IF NOT EXISTS vector_chunks_fts USING fts5(text, content='vector_chunks',"
        " content_rowid='id', tokenize='unicode61 remove_diacritics 2');"
        "CREATE TRIGGER IF NOT EXISTS vector_chunks_ai AFTER INSERT ON vector_chunks BEGIN"
        " INSERT INTO vector_chunks_fts(rowid, text) VALUES (new.id, new.text); END;"
        "CREATE TRIGGER IF NOT EXISTS vector_chunks_ad AFTER DELETE ON vector_chunks BEGIN"
        " INSERT INTO vector_chunks_fts(vector_chunks_fts, rowid, text) VALUES ('delete', old.id, old.text); END;",
        "create the vector chunks' FTS5 index", err);
}

static const char HEX[] = "0123456789abcdef";

/* dim floats as hex text of their little-endian bytes (out: 8 dim + 1 chars). */
static void hex_encode(const float *v, int dim, char *out) {
    const unsigned char *b = (const unsigned char *)v;
    size_t n = (size_t)dim * sizeof(float);
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = HEX[b[i] >> 4];
        out[2 * i + 1] = HEX[b[i] & 15];
    }
    out[2 * n] = 0;
}

static int hex_digit(char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; }

/* Back: false when text is not 8 dim hex digits. */
static bool hex_decode(const char *text, int dim, float *out) {
    unsigned char *b = (unsigned char *)out;
    size_t n = (size_t)dim * sizeof(float);
    if (!text || strlen(text) != 2 * n) return false;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_digit(text[2 * i]), lo = hex_digit(text[2 * i + 1]);
        if (hi < 0 || lo < 0) return false;
        b[i] = (unsigned char)(hi << 4 | lo);
    }
    return true;
}

static void read_vs_row(DbStmt *st, void *rec) {
    VectorStoreRecord *v = rec;
    store_col_text(st, 0, v->id, sizeof v->id);
    store_col_text(st, 1, v->project, sizeof v->project);
    store_col_text(st, 2, v->name, sizeof v->name);
    v->created_at = store_col_int(st, 3, 0);
    v->last_active_at = store_col_int(st, 4, 0);
    store_col_text(st, 5, v->metadata, sizeof v->metadata);
    store_col_text(st, 6, v->model, sizeof v->model);
}

static void read_counts(DbStmt *st, void *rec) {
    VectorStoreRecord *v = rec;
    v->n_in_progress = (int)store_col_int(st, 0, 0);
    v->n_completed = (int)store_col_int(st, 1, 0);
    v->n_failed = (int)store_col_int(st, 2, 0);
    v->usage_bytes = store_col_int(st, 3, 0);
}

/* The file counts and bytes of v (computed from its files). */
static int fill_counts(Store *s, VectorStoreRecord *v, Err *err) {
    DbStmt *st;
    if (store_prepare(s,
                      "SELECT count(*) FILTER (WHERE status = 'in_progress'), count(*) FILTER (WHERE status = "
                      "'completed'), count(*) FILTER (WHERE status = 'failed'), coalesce(sum(usage_bytes), 0)"
                      " FROM vector_store_files WHERE store_id = ?1",
                      &st, "count vector store files", err))
        return -1;
    store_bind_text(st, 1, v->id);
    int rc = store_get_one(s, st, read_counts, v, "count vector store files", err);
    return rc == STORE_NOT_FOUND ? 0 : rc;
}

int store_vs_create(Store *s, const VectorStoreRecord *v, Err *err) {
    if (!v->id[0] || !v->project[0] || !v->model[0])
        return err_set(err, ERR_ARG, "%s: a vector store needs an id, a project and a model", s->db_path);
    DbStmt *st;
    if (store_prepare(s, "INSERT INTO vector_stores (" VS_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &st,
                      "insert vector store", err))
        return -1;
    store_bind_text(st, 1, v->id);
    store_bind_text(st, 2, v->project);
    store_bind_opt_text(st, 3, v->name);
    db_bind_int64(st, 4, v->created_at);
    db_bind_int64(st, 5, v->last_active_at);
    store_bind_opt_text(st, 6, v->metadata);
    store_bind_text(st, 7, v->model);
    return store_run(s, st, "insert vector store", err);
}

int store_vs_get(Store *s, const char *id, VectorStoreRecord *out, Err *err) {
    char key[STORE_ID_MAX]; /* id may be out->id */
    store_copy(key, sizeof key, id);
    memset(out, 0, sizeof *out);
    DbStmt *st;
    if (store_prepare(s, "SELECT " VS_COLS " FROM vector_stores WHERE id = ?1", &st, "get vector store", err)) return -1;
    store_bind_text(st, 1, key);
    int rc = store_get_one(s, st, read_vs_row, out, "get vector store", err);
    return rc ? rc : fill_counts(s, out, err);
}

/* One page of rows owned by owner (?2 in every statement) after the item `after` (found by
 * cursor_sql), in seq order (asc_sql or desc_sql, with ?1 the seq to start after). */
static int list_page(Store *s, const char *cursor_sql, const char *asc_sql, const char *desc_sql, const char *owner,
                     const char *after, int limit, bool ascending, StoreRowFn read, size_t rec_size, void **out, int *n,
                     bool *has_more, const char *what, Err *err) {
    *out = NULL;
    *n = 0;
    *has_more = false;
    long long after_seq = ascending ? 0 : LLONG_MAX;
    if (after) {
        int rc = store_cursor(s, cursor_sql, after, owner, &after_seq, NULL, err);
        if (rc) return rc;
    }
    DbStmt *st;
    if (store_prepare(s, ascending ? asc_sql : desc_sql, &st, what, err)) return -1;
    db_bind_int64(st, 1, after_seq);
    store_bind_text(st, 2, owner);
    return store_collect(s, st, read, rec_size, store_clamp_limit(limit), out, n, has_more, what, err) ? -1 : 0;
}

int store_vs_list(Store *s, const char *project, const char *after, int limit, bool ascending, VectorStoreRecord **out,
                  int *n, bool *has_more, Err *err) {
    void *items;
    int rc = list_page(s, "SELECT seq FROM vector_stores WHERE id = ?1 AND project = ?2",
                       "SELECT " VS_COLS " FROM vector_stores WHERE seq > ?1 AND project = ?2 ORDER BY seq ASC",
                       "SELECT " VS_COLS " FROM vector_stores WHERE seq < ?1 AND project = ?2 ORDER BY seq DESC", project,
                       after, limit, ascending, read_vs_row, sizeof **out, &items, n, has_more, "list vector stores", err);
    *out = items;
    for (int i = 0; !rc && i < *n; i++)
        if (fill_counts(s, &(*out)[i], err)) {
            free(*out);
            *out = NULL;
            rc = -1;
        }
    return rc;
}

/* Runs constant sql with ?1 = a and (when b) ?2 = b; *changed gets the rows it changed. */
static int run_keyed(Store *s, const char *sql, const char *a, const char *b, int *changed, const char *what, Err *err) {
    DbStmt *st;
    if (store_prepare(s, sql, &st, what, err)) return -1;
    store_bind_text(st, 1, a);
    if (b) store_bind_text(st, 2, b);
    int rc = store_run(s, st, what, err);
    if (changed) *changed = (int)db_changes(s->db);
    return rc;
}

/* Ends the transaction begin() opened: committed when the body succeeded (rc_of_body >= 0, which
 * is returned), rolled back otherwise. */
static int end_transaction(Store *s, int rc_of_body, Err *err) {
    if (rc_of_body < 0) {
        db_rollback(s->db);
        return -1;
    }
    if (db_commit(s->db)) {
        store_sql_error(s, "commit", err);
        db_rollback(s->db);
        return -1;
    }
    return rc_of_body;
}

static int begin(Store *s, const char *what, Err *err) { return db_begin(s->db) ? store_sql_error(s, what, err) : 0; }

int store_vs_delete(Store *s, const char *id, Err *err) {
    if (begin(s, "begin vector store delete", err)) return -1;
    int changed = 0;
    bool was = s->use_reserve; /* a delete frees space: it may spend the reserve on a full disk */
    s->use_reserve = true;
    int rc = run_keyed(s, "DELETE FROM vector_chunks WHERE store_id = ?1", id, NULL, NULL, "delete vector chunks", err);
    if (!rc) rc = run_keyed(s, "DELETE FROM vector_store_files WHERE store_id = ?1", id, NULL, NULL, "delete vector store files", err);
    if (!rc) rc = run_keyed(s, "DELETE FROM vector_stores WHERE id = ?1", id, NULL, &changed, "delete vector store", err);
    rc = end_transaction(s, rc ? -1 : changed ? 0 : STORE_NOT_FOUND, err);
    s->use_reserve = was;
    return rc;
}

int store_vs_file_add(Store *s, const VectorFileRecord *f, Err *err) {
    DbStmt *st;
    if (store_prepare(s,
                      "INSERT INTO vector_store_files (" VSF_COLS ") VALUES (?1, ?2, ?3, 'in_progress', NULL,"
                      " 0, ?4, ?5, ?6) ON CONFLICT DO NOTHING",
                      &st, "attach vector store file", err))
        return -1;
    store_bind_text(st, 1, f->store_id);
    store_bind_text(st, 2, f->file_id);
    db_bind_int64(st, 3, f->created_at);
    db_bind_int64(st, 4, f->chunk_max);
    db_bind_int64(st, 5, f->chunk_overlap);
    store_bind_opt_text(st, 6, f->attributes);
    if (store_run(s, st, "attach vector store file", err)) return -1;
    if (db_changes(s->db) == 0) return STORE_CONFLICT;
    if (store_prepare(s, "UPDATE vector_stores SET last_active_at = ?2 WHERE id = ?1", &st, "touch vector store", err))
        return -1;
    store_bind_text(st, 1, f->store_id);
    db_bind_int64(st, 2, f->created_at);
    return store_run(s, st, "touch vector store", err);
}

static int insert_chunks(Store *s, const char *store_id, const char *file_id, const VectorChunkIn *chunks, int n,
                         int dim, long long *bytes, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "INSERT INTO vector_chunks (store_id, file_id, seq, text, embedding) VALUES (?1, ?2, ?3, ?4, ?5)",
                      &st, "insert vector chunk", err))
        return -1;
    size_t cap = 0;
    char *text = NULL, *hex = malloc((size_t)dim * 8 + 1);
    int rc = hex ? 0 : err_set(err, ERR_NOMEM, "out of memory");
    *bytes = 0;
    for (int i = 0; i < n && !rc; i++) {
        if (chunks[i].len + 1 > cap) { /* the layer binds NUL-terminated text */
            cap = chunks[i].len + 1;
            char *t = realloc(text, cap);
            if (!t) {
                rc = err_set(err, ERR_NOMEM, "out of memory for a chunk of %zu bytes", chunks[i].len);
                break;
            }
            text = t;
        }
        memcpy(text, chunks[i].text, chunks[i].len);
        text[chunks[i].len] = 0;
        hex_encode(chunks[i].embedding, dim, hex);
        db_reset(st);
        store_bind_text(st, 1, store_id);
        store_bind_text(st, 2, file_id);
        db_bind_int64(st, 3, i);
        db_bind_text(st, 4, text);
        db_bind_text(st, 5, hex);
        if (db_step(st) != DB_DONE) rc = store_sql_error(s, "insert vector chunk", err);
        *bytes += (long long)chunks[i].len + dim * (long long)sizeof(float);
    }
    db_finalize(st);
    free(text);
    free(hex);
    return rc;
}

int store_vs_file_finish(Store *s, const char *store_id, const char *file_id, const VectorChunkIn *chunks, int n,
                         int dim, const char *error, Err *err) {
    if (begin(s, "begin vector store file", err)) return -1;
    long long bytes = 0;
    int changed = 0, rc = 0;
    if (!error) rc = insert_chunks(s, store_id, file_id, chunks, n, dim, &bytes, err);
    DbStmt *st;
    if (!rc && store_prepare(s,
                             "UPDATE vector_store_files SET status = ?3, last_error = ?4, usage_bytes = ?5"
                             " WHERE store_id = ?1 AND file_id = ?2 AND status = 'in_progress'",
                             &st, "finish vector store file", err))
        rc = -1;
    if (!rc) {
        store_bind_text(st, 1, store_id);
        store_bind_text(st, 2, file_id);
        store_bind_text(st, 3, error ? "failed" : "completed");
        store_bind_opt_text(st, 4, error);
        db_bind_int64(st, 5, bytes);
        rc = store_run(s, st, "finish vector store file", err);
        changed = (int)db_changes(s->db);
    }
    /* detached meanwhile: nothing is kept (the chunks inserted above go with the rollback) */
    if (!rc && !changed) {
        db_rollback(s->db);
        return STORE_NOT_FOUND;
    }
    return end_transaction(s, rc, err);
}

static void read_vsf_row(DbStmt *st, void *rec) {
    VectorFileRecord *f = rec;
    store_col_text(st, 0, f->store_id, sizeof f->store_id);
    store_col_text(st, 1, f->file_id, sizeof f->file_id);
    f->created_at = store_col_int(st, 2, 0);
    store_col_text(st, 3, f->status, sizeof f->status);
    store_col_text(st, 4, f->last_error, sizeof f->last_error);
    f->usage_bytes = store_col_int(st, 5, 0);
    f->chunk_max = (int)store_col_int(st, 6, 0);
    f->chunk_overlap = (int)store_col_int(st, 7, 0);
    store_col_text(st, 8, f->attributes, sizeof f->attributes);
}

int store_vs_file_get(Store *s, const char *store_id, const char *file_id, VectorFileRecord *out, Err *err) {
    memset(out, 0, sizeof *out);
    DbStmt *st;
    if (store_prepare(s, "SELECT " VSF_COLS " FROM vector_store_files WHERE store_id = ?1 AND file_id = ?2", &st,
                      "get vector store file", err))
        return -1;
    store_bind_text(st, 1, store_id);
    store_bind_text(st, 2, file_id);
    return store_get_one(s, st, read_vsf_row, out, "get vector store file", err);
}

int store_vs_file_list(Store *s, const char *store_id, const char *after, int limit, bool ascending,
                       VectorFileRecord **out, int *n, bool *has_more, Err *err) {
    void *items;
    int rc = list_page(s, "SELECT seq FROM vector_store_files WHERE file_id = ?1 AND store_id = ?2",
                       "SELECT " VSF_COLS " FROM vector_store_files WHERE seq > ?1 AND store_id = ?2 ORDER BY seq ASC",
                       "SELECT " VSF_COLS " FROM vector_store_files WHERE seq < ?1 AND store_id = ?2 ORDER BY seq DESC",
                       store_id, after, limit, ascending, read_vsf_row, sizeof **out, &items, n, has_more,
                       "list vector store files", err);
    *out = items;
    return rc;
}

int store_vs_file_delete(Store *s, const char *store_id, const char *file_id, Err *err) {
    if (begin(s, "begin vector store file delete", err)) return -1;
    bool was = s->use_reserve;
    s->use_reserve = true;
    int changed = 0;
    int rc = run_keyed(s, "DELETE FROM vector_chunks WHERE store_id = ?1 AND file_id = ?2", store_id, file_id, NULL,
                       "delete vector chunks", err);
    if (!rc)
        rc = run_keyed(s, "DELETE FROM vector_store_files WHERE store_id = ?1 AND file_id = ?2", store_id, file_id,
                       &changed, "detach vector store file", err);
    rc = end_transaction(s, rc ? -1 : changed ? 0 : STORE_NOT_FOUND, err);
    s->use_reserve = was;
    return rc;
}

int store_vs_fail_in_progress(Store *s, Err *err) {
    return store_exec(s,
                      "UPDATE vector_store_files SET status = 'failed', last_error = 'The server stopped before the "
                      "file was processed; attach it again.' WHERE status = 'in_progress'",
                      "fail interrupted vector store files", err);
}

int store_vs_vectors(Store *s, const char *store_id, int dim, int64_t **ids, float **vecs, int *n, Err *err) {
    *ids = NULL;
    *vecs = NULL;
    *n = 0;
    DbStmt *st;
    if (store_prepare(s, "SELECT id, embedding FROM vector_chunks WHERE store_id = ?1 ORDER BY id", &st,
                      "read vector chunks", err))
        return -1;
    store_bind_text(st, 1, store_id);
    size_t cap = 0, count = 0, row = (size_t)dim * sizeof(float);
    int rc = 0, step;
    while ((step = db_step(st)) == DB_ROW) {
        if (count == cap) {
            cap = cap ? 2 * cap : 1024;
            int64_t *ni = realloc(*ids, cap * sizeof **ids);
            if (ni) *ids = ni;
            float *nv = ni ? realloc(*vecs, cap * row) : NULL;
            if (nv) *vecs = nv;
            if (!ni || !nv) {
                rc = err_set(err, ERR_NOMEM, "%s: out of memory for %zu vectors", s->db_path, cap);
                break;
            }
        }
        (*ids)[count] = db_column_int64(st, 0);
        if (!hex_decode(db_column_text(st, 1), dim, *vecs + count * dim)) { // (n, dim)
            rc = err_set(err, ERR_FORMAT, "%s: vector chunk %lld does not hold %d floats", s->db_path,
                         (long long)(*ids)[count], dim);
            break;
        }
        count++;
    }
    if (!rc && step == DB_FAIL) rc = store_sql_error(s, "read vector chunks", err);
    db_finalize(st);
    if (rc) {
        free(*ids);
        free(*vecs);
        *ids = NULL;
        *vecs = NULL;
        return -1;
    }
    *n = (int)count;
    return 0;
}

static void read_version(DbStmt *st, void *rec) {
    long long *v = rec;
    v[0] = store_col_int(st, 0, 0);
    v[1] = store_col_int(st, 1, 0);
}

int store_vs_version(Store *s, const char *store_id, long long *count, long long *max_id, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "SELECT count(*), coalesce(max(id), 0) FROM vector_chunks WHERE store_id = ?1", &st,
                      "count vector chunks", err))
        return -1;
    store_bind_text(st, 1, store_id);
    long long v[2] = {0, 0};
    int rc = store_get_one(s, st, read_version, v, "count vector chunks", err);
    *count = v[0];
    *max_id = v[1];
    return rc < 0 ? -1 : 0;
}

/* The full-text query for free text: each word (a run of letters and digits, any byte >= 0x80
 * counted as a letter) quoted and joined with OR: FTS5's "a" OR "b", or PostgreSQL's tsquery
 * 'a' | 'b'; "" when there is none. */
static void fts_query(const char *q, bool pg, char *out, size_t cap) {
    size_t m = 0;
    int terms = 0;
    out[0] = 0;
    for (const unsigned char *p = (const unsigned char *)q; *p && terms < FTS_MAX_TERMS;) {
        while (*p && !(*p >= 0x80 || (*p >= '0' && *p <= '9') || ((*p | 32) >= 'a' && (*p | 32) <= 'z'))) p++;
        const unsigned char *w = p;
        while (*p >= 0x80 || (*p >= '0' && *p <= '9') || ((*p | 32) >= 'a' && (*p | 32) <= 'z')) p++;
        size_t k = (size_t)(p - w);
        if (!k || m + k + 8 >= cap) continue;
        if (terms++) memcpy(out + m, pg ? " | " : " OR ", pg ? 3 : 4), m += pg ? 3 : 4;
        out[m++] = pg ? '\'' : '"';
        memcpy(out + m, w, k);
        m += k;
        out[m++] = pg ? '\'' : '"';
        out[m] = 0;
    }
}

int store_vs_text_search(Store *s, const char *store_id, const char *query, int limit, int64_t **ids, double **scores,
                         int *n, Err *err) {
    *ids = NULL;
    *scores = NULL;
    *n = 0;
    char q[FTS_QUERY_MAX];
    bool pg = db_kind(s->db) == DB_POSTGRES;
    fts_query(query, pg, q, sizeof q);
    if (!q[0] || limit <= 0) return 0;
    DbStmt *st;
    if (store_prepare(s,
                      pg ? "SELECT id, ts_rank(to_tsvector('simple', text), to_tsquery('simple', ?1)) FROM vector_chunks"
                           " WHERE to_tsvector('simple', text) @@ to_tsquery('simple', ?1) AND store_id = ?2"
                           " ORDER BY 2 DESC, id LIMIT ?3"
                         : "SELECT vector_chunks_fts.rowid, -bm25(vector_chunks_fts) FROM vector_chunks_fts"
                           " JOIN vector_chunks ON vector_chunks.id = vector_chunks_fts.rowid"
                           " WHERE vector_chunks_fts MATCH ?1 AND vector_chunks.store_id = ?2"
                           " ORDER BY bm25(vector_chunks_fts) LIMIT ?3",
                      &st, "full-text search", err))
        return -1;
    db_bind_text(st, 1, q);
    store_bind_text(st, 2, store_id);
    db_bind_int64(st, 3, limit);
    *ids = malloc((size_t)limit * sizeof **ids);
    *scores = malloc((size_t)limit * sizeof **scores);
    int rc = *ids && *scores ? 0 : err_set(err, ERR_NOMEM, "out of memory"), step = DB_DONE;
    while (!rc && *n < limit && (step = db_step(st)) == DB_ROW) {
        (*ids)[*n] = db_column_int64(st, 0);
        const char *score = db_column_text(st, 1);
        (*scores)[(*n)++] = score ? strtod(score, NULL) : 0;
    }
    if (!rc && step == DB_FAIL) rc = store_sql_error(s, "full-text search", err);
    db_finalize(st);
    if (rc) {
        free(*ids);
        free(*scores);
        *ids = NULL;
        *scores = NULL;
        *n = 0;
        return -1;
    }
    return 0;
}

static void read_chunk(DbStmt *st, void *rec) {
    void **out = rec;
    store_col_text(st, 0, out[0], STORE_ID_MAX);
    *(char **)out[1] = store_col_heap_text(st, 1);
}

int store_vs_chunk(Store *s, int64_t id, char file_id[STORE_ID_MAX], char **text, Err *err) {
    *text = NULL;
    DbStmt *st;
    if (store_prepare(s, "SELECT file_id, text FROM vector_chunks WHERE id = ?1", &st, "read vector chunk", err)) return -1;
    db_bind_int64(st, 1, id);
    void *rec[2] = {file_id, text};
    int rc = store_get_one(s, st, read_chunk, rec, "read vector chunk", err);
    if (!rc && !*text) return err_set(err, ERR_NOMEM, "out of memory");
    return rc;
}
