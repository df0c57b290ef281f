/* store_vectors.c: vector stores (see store.h): the stores, their files and the files' chunks
 * (text, embedding as hex text of little-endian float32) with a full-text index: on SQLite an
 * external-content FTS5 table kept by triggers (BM25), on PostgreSQL a GIN index of
 * to_tsvector('simple', text) (ts_rank). Schema version 7 (store_vectors_schema, run by
 * ensure_schema on older databases); version 9 adds a store's expiry (expires_days), file batches
 * and each file's batch_id (store_vectors_batches_schema). It does not chunk, embed or rank
 * (src/retrieval/): it stores and reads back. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

#define VS_COLS "id, project, name, created_at, last_active_at, metadata, model, expires_days"
#define VSF_COLS \
    "store_id, file_id, created_at, status, last_error, usage_bytes, chunk_max, chunk_overlap, attributes, batch_id"
#define VSB_COLS "id, store_id, created_at, cancelled"
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

int store_vectors_batches_schema(Store *s, Err *err) {
    if (store_add_column(s, "vector_stores", "expires_days", "INTEGER", "add vector store expiry", err) ||
        store_add_column(s, "vector_store_files", "batch_id", "TEXT", "add vector store file batches", err))
        return -1;
    return store_exec(s,
                      "CREATE INDEX IF NOT EXISTS vector_store_files_batch ON vector_store_files(batch_id, seq);"
                      "CREATE TABLE IF NOT EXISTS vector_store_file_batches ("
                      " seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, store_id TEXT NOT NULL,"
                      " created_at INTEGER NOT NULL, cancelled INTEGER NOT NULL DEFAULT 0);",
                      "add vector store file batches", err);
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
    v->expires_days = (int)store_col_int(st, 7, 0);
}

static void read_counts(DbStmt *st, void *rec) {
    VectorFileCounts *c = rec;
    c->in_progress = (int)store_col_int(st, 0, 0);
    c->completed = (int)store_col_int(st, 1, 0);
    c->failed = (int)store_col_int(st, 2, 0);
    c->cancelled = (int)store_col_int(st, 3, 0);
    c->usage_bytes = store_col_int(st, 4, 0);
}

#define COUNTS_SQL                                                                                                   \
    "SELECT count(*) FILTER (WHERE status = 'in_progress'), count(*) FILTER (WHERE status = 'completed'),"          \
    " count(*) FILTER (WHERE status = 'failed'), count(*) FILTER (WHERE status = 'cancelled'),"                      \
    " coalesce(sum(usage_bytes), 0) FROM vector_store_files"

/* The file counts and bytes of a store's files (batch_id NULL) or of one batch's. */
static int fill_counts(Store *s, const char *store_id, const char *batch_id, VectorFileCounts *c, Err *err) {
    DbStmt *st;
    memset(c, 0, sizeof *c);
    if (store_prepare(s, batch_id ? COUNTS_SQL " WHERE store_id = ?1 AND batch_id = ?2" : COUNTS_SQL " WHERE store_id = ?1",
                      &st, "count vector store files", err))
        return -1;
    store_bind_text(st, 1, store_id);
    if (batch_id) store_bind_text(st, 2, batch_id);
    int rc = store_get_one(s, st, read_counts, c, "count vector store files", err);
    return rc == STORE_NOT_FOUND ? 0 : rc;
}

int store_vs_create(Store *s, const VectorStoreRecord *v, Err *err) {
    if (!v->id[0] || !v->project[0] || !v->model[0])
        return err_set(err, ERR_ARG, "%s: a vector store needs an id, a project and a model", s->db_path);
    DbStmt *st;
    if (store_prepare(s, "INSERT INTO vector_stores (" VS_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", &st,
                      "insert vector store", err))
        return -1;
    store_bind_text(st, 1, v->id);
    store_bind_text(st, 2, v->project);
    store_bind_opt_text(st, 3, v->name);
    db_bind_int64(st, 4, v->created_at);
    db_bind_int64(st, 5, v->last_active_at);
    store_bind_opt_text(st, 6, v->metadata);
    store_bind_text(st, 7, v->model);
    store_bind_opt_int(st, 8, v->expires_days, 0);
    return store_run(s, st, "insert vector store", err);
}

int store_vs_update(Store *s, const VectorStoreRecord *v, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "UPDATE vector_stores SET name = ?2, metadata = ?3, expires_days = ?4 WHERE id = ?1", &st,
                      "update vector store", err))
        return -1;
    store_bind_text(st, 1, v->id);
    store_bind_opt_text(st, 2, v->name);
    store_bind_opt_text(st, 3, v->metadata);
    store_bind_opt_int(st, 4, v->expires_days, 0);
    return store_run_one(s, st, "update vector store", err);
}

int store_vs_touch(Store *s, const char *id, long long now, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "UPDATE vector_stores SET last_active_at = ?2 WHERE id = ?1", &st, "touch vector store", err))
        return -1;
    store_bind_text(st, 1, id);
    db_bind_int64(st, 2, now);
    return store_run_one(s, st, "touch vector store", err);
}

int store_vs_get(Store *s, const char *id, VectorStoreRecord *out, Err *err) {
    char key[STORE_ID_MAX]; /* id may be out->id */
    store_copy(key, sizeof key, id);
    memset(out, 0, sizeof *out);
    DbStmt *st;
    if (store_prepare(s, "SELECT " VS_COLS " FROM vector_stores WHERE id = ?1", &st, "get vector store", err)) return -1;
    store_bind_text(st, 1, key);
    int rc = store_get_one(s, st, read_vs_row, out, "get vector store", err);
    return rc ? rc : fill_counts(s, out->id, NULL, &out->counts, err);
}

/* One page of rows owned by owner (?2 in every statement) after the item `after` (found by
 * cursor_sql), in seq order (asc_sql or desc_sql, with ?1 the seq to start after, and ?3.. the
 * n_extra extra values, NULL binding SQL NULL). */
static int list_page(Store *s, const char *cursor_sql, const char *asc_sql, const char *desc_sql, const char *owner,
                     const char *const *extra, int n_extra, const char *after, int limit, bool ascending, StoreRowFn read,
                     size_t rec_size, void **out, int *n, bool *has_more, const char *what, Err *err) {
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
    for (int i = 0; i < n_extra; i++) store_bind_text(st, 3 + i, extra[i]);
    return store_collect(s, st, read, rec_size, store_clamp_limit(limit), out, n, has_more, what, err) ? -1 : 0;
}

int store_vs_list(Store *s, const char *project, const char *after, int limit, bool ascending, VectorStoreRecord **out,
                  int *n, bool *has_more, Err *err) {
    void *items;
    int rc = list_page(s, "SELECT seq FROM vector_stores WHERE id = ?1 AND project = ?2",
                       "SELECT " VS_COLS " FROM vector_stores WHERE seq > ?1 AND project = ?2 ORDER BY seq ASC",
                       "SELECT " VS_COLS " FROM vector_stores WHERE seq < ?1 AND project = ?2 ORDER BY seq DESC", project,
                       NULL, 0, after, limit, ascending, read_vs_row, sizeof **out, &items, n, has_more, "list vector stores", err);
    *out = items;
    for (int i = 0; !rc && i < *n; i++)
        if (fill_counts(s, (*out)[i].id, NULL, &(*out)[i].counts, err)) {
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
    if (!rc)
        rc = run_keyed(s, "DELETE FROM vector_store_file_batches WHERE store_id = ?1", id, NULL, NULL,
                       "delete vector store file batches", err);
    if (!rc) rc = run_keyed(s, "DELETE FROM vector_stores WHERE id = ?1", id, NULL, &changed, "delete vector store", err);
    rc = end_transaction(s, rc ? -1 : changed ? 0 : STORE_NOT_FOUND, err);
    s->use_reserve = was;
    return rc;
}

/* Inserts a file's row in_progress (with batch_id when not NULL): STORE_CONFLICT when it is there already. */
static int insert_file(Store *s, const char *store_id, long long created_at, const char *batch_id, const VectorFileIn *f,
                       Err *err) {
    DbStmt *st;
    if (store_prepare(s,
                      "INSERT INTO vector_store_files (" VSF_COLS ") VALUES (?1, ?2, ?3, 'in_progress', NULL,"
                      " 0, ?4, ?5, ?6, ?7) ON CONFLICT DO NOTHING",
                      &st, "attach vector store file", err))
        return -1;
    store_bind_text(st, 1, store_id);
    store_bind_text(st, 2, f->file_id);
    db_bind_int64(st, 3, created_at);
    db_bind_int64(st, 4, f->chunk_max);
    db_bind_int64(st, 5, f->chunk_overlap);
    store_bind_opt_text(st, 6, f->attributes);
    store_bind_text(st, 7, batch_id);
    if (store_run(s, st, "attach vector store file", err)) return -1;
    return db_changes(s->db) == 0 ? STORE_CONFLICT : 0;
}

int store_vs_files_add(Store *s, const char *store_id, long long created_at, const char *batch_id,
                       const VectorFileIn *files, int n, int *conflict, Err *err) {
    *conflict = -1;
    if (begin(s, "begin vector store files", err)) return -1;
    DbStmt *st;
    int rc = 0;
    if (batch_id) {
        rc = store_prepare(s, "INSERT INTO vector_store_file_batches (" VSB_COLS ") VALUES (?1, ?2, ?3, 0)", &st,
                           "insert vector store file batch", err);
        if (!rc) {
            store_bind_text(st, 1, batch_id);
            store_bind_text(st, 2, store_id);
            db_bind_int64(st, 3, created_at);
            rc = store_run(s, st, "insert vector store file batch", err);
        }
    }
    for (int i = 0; i < n && !rc; i++) {
        rc = insert_file(s, store_id, created_at, batch_id, &files[i], err);
        if (rc == STORE_CONFLICT) *conflict = i;
    }
    if (!rc) rc = store_prepare(s, "UPDATE vector_stores SET last_active_at = ?2 WHERE id = ?1", &st, "touch vector store", err);
    if (!rc) {
        store_bind_text(st, 1, store_id);
        db_bind_int64(st, 2, created_at);
        rc = store_run(s, st, "touch vector store", err);
    }
    if (rc == STORE_CONFLICT) {
        db_rollback(s->db);
        return STORE_CONFLICT;
    }
    return end_transaction(s, rc, err);
}

int store_vs_file_add(Store *s, const VectorFileRecord *f, Err *err) {
    VectorFileIn in = {f->file_id, f->attributes, f->chunk_max, f->chunk_overlap};
    int conflict;
    return store_vs_files_add(s, f->store_id, f->created_at, NULL, &in, 1, &conflict, err);
}

int store_vs_file_set_attributes(Store *s, const char *store_id, const char *file_id, const char *attributes, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "UPDATE vector_store_files SET attributes = ?3 WHERE store_id = ?1 AND file_id = ?2", &st,
                      "update vector store file attributes", err))
        return -1;
    store_bind_text(st, 1, store_id);
    store_bind_text(st, 2, file_id);
    store_bind_opt_text(st, 3, attributes);
    return store_run_one(s, st, "update vector store file attributes", err);
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
    store_col_text(st, 9, f->batch_id, sizeof f->batch_id);
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

int store_vs_file_list(Store *s, const char *store_id, const char *batch_id, const char *status, const char *after,
                       int limit, bool ascending, VectorFileRecord **out, int *n, bool *has_more, Err *err) {
    void *items;
    const char *extra[2] = {batch_id, status};
#define VSF_WHERE " AND store_id = ?2 AND (?3 IS NULL OR batch_id = ?3) AND (?4 IS NULL OR status = ?4)"
    int rc = list_page(s, "SELECT seq FROM vector_store_files WHERE file_id = ?1 AND store_id = ?2",
                       "SELECT " VSF_COLS " FROM vector_store_files WHERE seq > ?1" VSF_WHERE " ORDER BY seq ASC",
                       "SELECT " VSF_COLS " FROM vector_store_files WHERE seq < ?1" VSF_WHERE " ORDER BY seq DESC",
                       store_id, extra, 2, after, limit, ascending, read_vsf_row, sizeof **out, &items, n, has_more,
                       "list vector store files", err);
#undef VSF_WHERE
    *out = items;
    return rc;
}

static void read_batch_row(DbStmt *st, void *rec) {
    VectorBatchRecord *b = rec;
    store_col_text(st, 0, b->id, sizeof b->id);
    store_col_text(st, 1, b->store_id, sizeof b->store_id);
    b->created_at = store_col_int(st, 2, 0);
    b->cancelled = store_col_int(st, 3, 0) != 0;
}

int store_vs_batch_get(Store *s, const char *store_id_in, const char *batch_id_in, VectorBatchRecord *out, Err *err) {
    char store_id[STORE_ID_MAX], batch_id[STORE_ID_MAX]; /* they may be out's */
    store_copy(store_id, sizeof store_id, store_id_in);
    store_copy(batch_id, sizeof batch_id, batch_id_in);
    memset(out, 0, sizeof *out);
    DbStmt *st;
    if (store_prepare(s, "SELECT " VSB_COLS " FROM vector_store_file_batches WHERE store_id = ?1 AND id = ?2", &st,
                      "get vector store file batch", err))
        return -1;
    store_bind_text(st, 1, store_id);
    store_bind_text(st, 2, batch_id);
    int rc = store_get_one(s, st, read_batch_row, out, "get vector store file batch", err);
    return rc ? rc : fill_counts(s, store_id, batch_id, &out->counts, err);
}

int store_vs_batch_cancel(Store *s, const char *store_id, const char *batch_id, Err *err) {
    if (begin(s, "begin vector store file batch cancel", err)) return -1;
    int changed = 0;
    int rc = run_keyed(s, "UPDATE vector_store_file_batches SET cancelled = 1 WHERE store_id = ?1 AND id = ?2", store_id,
                       batch_id, &changed, "cancel vector store file batch", err);
    if (!rc)
        rc = run_keyed(s,
                       "UPDATE vector_store_files SET status = 'cancelled' WHERE store_id = ?1 AND batch_id = ?2"
                       " AND status = 'in_progress'",
                       store_id, batch_id, NULL, "cancel vector store file batch's files", err);
    return end_transaction(s, rc ? -1 : changed ? 0 : STORE_NOT_FOUND, err);
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

int store_vs_file_forget(Store *s, const char *file_id, Err *err) {
    if (begin(s, "begin vector store file forget", err)) return -1;
    int rc = run_keyed(s, "DELETE FROM vector_chunks WHERE file_id = ?1", file_id, NULL, NULL, "delete vector chunks", err);
    if (!rc)
        rc = run_keyed(s, "DELETE FROM vector_store_files WHERE file_id = ?1", file_id, NULL, NULL,
                       "detach the file from vector stores", err);
    return end_transaction(s, rc ? -1 : 0, err);
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

static int by_value(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

/* Appends the ids of a file's chunks to *ids (*n of them, room for *cap). */
static int append_chunk_ids(Store *s, const char *store_id, const char *file_id, int64_t **ids, int *n, size_t *cap,
                            Err *err) {
    DbStmt *st;
    if (store_prepare(s, "SELECT id FROM vector_chunks WHERE store_id = ?1 AND file_id = ?2", &st, "read chunk ids", err))
        return -1;
    store_bind_text(st, 1, store_id);
    store_bind_text(st, 2, file_id);
    int step, rc = 0;
    while ((step = db_step(st)) == DB_ROW) {
        if ((size_t)*n == *cap) {
            size_t grown = *cap ? 2 * *cap : 1024;
            int64_t *more = realloc(*ids, grown * sizeof **ids);
            if (!more) {
                rc = err_set(err, ERR_NOMEM, "out of memory for %zu chunk ids", grown);
                break;
            }
            *ids = more, *cap = grown;
        }
        (*ids)[(*n)++] = db_column_int64(st, 0);
    }
    if (!rc && step == DB_FAIL) rc = store_sql_error(s, "read chunk ids", err);
    db_finalize(st);
    return rc;
}

int store_vs_chunks_where(Store *s, const char *store_id, bool (*keep)(const char *file_id, const char *attributes, void *user),
                          void *user, int64_t **ids, int *n, Err *err) {
    *ids = NULL;
    *n = 0;
    DbStmt *st;
    if (store_prepare(s, "SELECT file_id, attributes FROM vector_store_files WHERE store_id = ?1 AND status = 'completed'",
                      &st, "read vector store file attributes", err))
        return -1;
    store_bind_text(st, 1, store_id);
    char (*kept)[STORE_ID_MAX] = NULL;
    size_t n_kept = 0, cap_kept = 0, cap = 0;
    int step, rc = 0;
    while (!rc && (step = db_step(st)) == DB_ROW) {
        char file_id[STORE_ID_MAX];
        store_col_text(st, 0, file_id, sizeof file_id);
        char *attrs = store_col_heap_text(st, 1);
        if (!attrs) rc = err_set(err, ERR_NOMEM, "out of memory");
        else if (keep(file_id, attrs, user)) {
            if (n_kept == cap_kept) {
                size_t grown = cap_kept ? 2 * cap_kept : 64;
                char(*more)[STORE_ID_MAX] = realloc(kept, grown * sizeof *kept);
                if (!more) rc = err_set(err, ERR_NOMEM, "out of memory");
                else kept = more, cap_kept = grown;
            }
            if (!rc) memcpy(kept[n_kept++], file_id, sizeof file_id);
        }
        free(attrs);
    }
    if (!rc && step == DB_FAIL) rc = store_sql_error(s, "read vector store file attributes", err);
    db_finalize(st);
    for (size_t i = 0; !rc && i < n_kept; i++) rc = append_chunk_ids(s, store_id, kept[i], ids, n, &cap, err);
    free(kept);
    if (rc) {
        free(*ids);
        *ids = NULL;
        *n = 0;
        return -1;
    }
    if (*n) qsort(*ids, (size_t)*n, sizeof **ids, by_value);
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
