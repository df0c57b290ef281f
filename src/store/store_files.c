/* store_files.c: uploaded files: a row in `files` plus the blob <data>/files/<id>. The blob is made
 * durable before the row is committed, so a row never names a missing blob after a crash (a
 * crash between the two leaves at most an orphan blob, which nothing lists). Does not read
 * blobs back: callers open store_file_path themselves. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/fileio.h"
#include "store_internal.h"

#define FILE_COLS "id, bytes, created_at, filename, purpose, expires_at, project"
/* ?4 = now (store_now) */
#define NOT_EXPIRED "(expires_at IS NULL OR expires_at > ?4)"

static void read_file_row(DbStmt *st, void *rec) {
    FileRecord *f = rec;
    store_col_text(st, 0, f->id, sizeof f->id);
    f->bytes = store_col_int(st, 1, 0);
    f->created_at = store_col_int(st, 2, 0);
    store_col_text(st, 3, f->filename, sizeof f->filename);
    store_col_text(st, 4, f->purpose, sizeof f->purpose);
    f->expires_at = store_col_int(st, 5, 0);
    store_col_text(st, 6, f->project, sizeof f->project);
}

static void new_file_record(FileRecord *f, const char *project, const char *filename, const char *purpose,
                            long long bytes) {
    store_new_id("file-", f->id, sizeof f->id);
    store_copy(f->project, sizeof f->project, project);
    f->bytes = bytes;
    f->created_at = store_now();
    store_copy(f->filename, sizeof f->filename, filename);
    store_copy(f->purpose, sizeof f->purpose, purpose);
    f->expires_at = 0;
}

/* Inserts f's row; on failure removes the blob at path (nothing else refers to it). */
static int insert_file_row(Store *s, const FileRecord *f, const char *path, FileRecord *out, Err *err) {
    DbStmt *st;
    int rc = store_prepare(s, "INSERT INTO files (" FILE_COLS ") VALUES (?1, ?2, ?3, ?4, ?5, NULL, ?6)", &st,
                           "insert file", err);
    if (rc == 0) {
        store_bind_text(st, 1, f->id);
        db_bind_int64(st, 2, f->bytes);
        db_bind_int64(st, 3, f->created_at);
        store_bind_text(st, 4, f->filename);
        store_bind_text(st, 5, f->purpose);
        store_bind_text(st, 6, f->project);
        rc = store_run(s, st, "insert file", err);
    }
    if (rc) {
        unlink(path);
        return -1;
    }
    if (out) *out = *f;
    return 0;
}

void store_file_path(const Store *s, const char *id, char *out, size_t size) {
    int w = snprintf(out, size, "%s/%s", s->files_dir, id);
    if ((w < 0 || (size_t)w >= size) && size) out[0] = 0; /* never a cut path (store_open bounds it) */
}

int store_file_create(Store *s, const char *project, const char *filename, const char *purpose, const void *data,
                      size_t len, FileRecord *out, Err *err) {
    if (!project || !project[0]) return err_set(err, ERR_ARG, "%s: a new file needs a project", s->db_path);
    FileRecord f;
    new_file_record(&f, project, filename, purpose, (long long)len);
    char path[STORE_PATH_MAX];
    store_file_path(s, f.id, path, sizeof path);
    if (file_write_atomic(path, data, len, err)) {
        unlink(path); /* written but not made durable (directory fsync): no row will name it */
        return -1;
    }
    return insert_file_row(s, &f, path, out, err);
}

int store_file_get(Store *s, const char *id, FileRecord *out, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "SELECT " FILE_COLS " FROM files WHERE id = ?1 AND " NOT_EXPIRED, &st, "get file", err)) return -1;
    store_bind_text(st, 1, id);
    db_bind_int64(st, 4, store_now());
    return store_get_one(s, st, read_file_row, out, "get file", err);
}

int store_file_list(Store *s, const char *project, const char *purpose, const char *after, int limit, bool ascending,
                    FileRecord **out, int *n, bool *has_more, Err *err) {
    *out = NULL;
    *n = 0;
    *has_more = false;
    long long after_seq = ascending ? 0 : LLONG_MAX;
    if (after) {
        /* another project's file is an unknown cursor, as it is an unknown file */
        int rc = store_cursor(s, project ? "SELECT seq FROM files WHERE id = ?1 AND project = ?2" : "SELECT seq FROM files WHERE id = ?1",
                              after, project, &after_seq, NULL, err);
        if (rc) return rc;
    }
    SqlBuf b = {.len = 0};
    sqlbuf_add(&b, "SELECT " FILE_COLS " FROM files WHERE " NOT_EXPIRED " AND ");
    sqlbuf_add(&b, ascending ? "seq > ?1" : "seq < ?1");
    if (purpose) sqlbuf_add(&b, " AND purpose = ?2");
    if (project) sqlbuf_add(&b, " AND project = ?3");
    sqlbuf_add(&b, ascending ? " ORDER BY seq ASC" : " ORDER BY seq DESC");
    DbStmt *st;
    if (store_prepare_buf(s, &b, &st, "list files", err)) return -1;
    db_bind_int64(st, 1, after_seq);
    if (purpose) store_bind_text(st, 2, purpose);
    if (project) store_bind_text(st, 3, project);
    db_bind_int64(st, 4, store_now());
    void *items;
    if (store_collect(s, st, read_file_row, sizeof **out, store_clamp_limit(limit), &items, n, has_more, "list files",
                      err))
        return -1;
    *out = items;
    return 0;
}

static int delete_file_row(Store *s, const char *id, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "DELETE FROM files WHERE id = ?1", &st, "delete file", err)) return -1;
    store_bind_text(st, 1, id);
    return store_run_one(s, st, "delete file", err);
}

int store_file_delete(Store *s, const char *id, Err *err) {
    char path[STORE_PATH_MAX];
    store_file_path(s, id, path, sizeof path);
    bool was = s->use_reserve;
    s->use_reserve = true;
    int rc = store_vs_file_forget(s, id, err); /* as OpenAI's: out of every vector store too */
    if (!rc) rc = delete_file_row(s, id, err);
    /* Still full with no reserve left (the row exists: deleting none writes nothing): the blob's
     * space first, then the row. A crash in between leaves a row whose content is gone, which a
     * later delete removes. */
    if (rc < 0 && s->last_err == DB_FULL && unlink(path) == 0) rc = delete_file_row(s, id, err);
    s->use_reserve = was;
    if (rc) return rc;
    if (unlink(path) != 0 && errno != ENOENT)
        return err_set(err, ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    return 0;
}

int store_file_set_expiry(Store *s, const char *id, long long expires_at, Err *err) {
    DbStmt *st;
    if (store_prepare(s, "UPDATE files SET expires_at = ?2 WHERE id = ?1", &st, "set file expiry", err)) return -1;
    store_bind_text(st, 1, id);
    if (expires_at > 0) db_bind_int64(st, 2, expires_at);
    else db_bind_null_int(st, 2);
    return store_run_one(s, st, "set file expiry", err);
}

int store_file_purge_expired(Store *s, long long now, int *n_deleted, Err *err) {
    if (n_deleted) *n_deleted = 0;
    for (;;) { /* one at a time: each delete removes its blob too */
        DbStmt *st;
        if (store_prepare(s, "SELECT " FILE_COLS " FROM files WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT 1",
                          &st, "find expired files", err))
            return -1;
        db_bind_int64(st, 1, now);
        FileRecord f;
        int rc = store_get_one(s, st, read_file_row, &f, "find expired files", err);
        if (rc == STORE_NOT_FOUND) return 0;
        if (rc) return -1;
        rc = store_file_delete(s, f.id, err);
        if (rc < 0) return -1;
        if (n_deleted) (*n_deleted)++;
    }
}
