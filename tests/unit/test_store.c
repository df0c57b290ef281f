/* test_store.c: the durable state module against a real SQLite database in a fresh directory
 * under /tmp (removed at the end of each test): creation and reopening, file blobs byte for byte,
 * paging (cursor, has_more, unknown cursor), deletion, every job column round
 * tripped, atomic transitions and conditional updates, the queue head, the metadata filter,
 * counts, model lookups, events in insertion order within one second, checkpoint order and
 * directories (relative to the data directory, migrated from schema 1), model aliases (set,
 * re-point, get, list, delete; the job columns of schema 3, migrated from 2), the start-up checks (lost
 * or corrupt database), two connections writing from two threads at once, and ids. */
#include <ftw.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/fileio.h"
#include "store/store.h"
#include "test.h"
#include "test_database.h"

#define PATH_LEN 512

#define CHECK_EQ_STR(a, b)                                                                                 \
    do {                                                                                                   \
        const char *a_ = (a), *b_ = (b);                                                                   \
        if (strcmp(a_, b_) != 0) test_fail(__FILE__, __LINE__, "%s == %s: \"%s\" != \"%s\"", #a, #b, a_, b_); \
    } while (0)

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Runs body with a store opened on a fresh temporary data directory, then removes it all. */
static void with_store(void (*body)(Store *s, const char *dir)) {
    char dir[] = "/tmp/ftune_test_store_XXXXXX";
    if (!mkdtemp(dir)) {
        test_fail(__FILE__, __LINE__, "mkdtemp failed");
        return;
    }
    Store *s = NULL;
    Err err = {0};
    if (store_open(dir, test_database(dir), &s, &err) == 0)
        body(s, dir);
    else
        test_fail(__FILE__, __LINE__, "store_open: %s", err.msg);
    store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void job_init(JobRecord *j, const char *id, const char *status, const char *metadata) {
    memset(j, 0, sizeof *j);
    snprintf(j->id, sizeof j->id, "%s", id);
    snprintf(j->project, sizeof j->project, "%s", STORE_DEFAULT_PROJECT);
    j->created_at = 1700000000;
    snprintf(j->model, sizeof j->model, "SmolLM2-135M-Instruct");
    snprintf(j->training_file, sizeof j->training_file, "file-train");
    snprintf(j->status, sizeof j->status, "%s", status);
    snprintf(j->n_epochs, sizeof j->n_epochs, "auto");
    snprintf(j->batch_size, sizeof j->batch_size, "auto");
    snprintf(j->lr_multiplier, sizeof j->lr_multiplier, "auto");
    snprintf(j->metadata, sizeof j->metadata, "%s", metadata);
    j->trained_tokens = -1;
}

static int add_job(Store *s, const char *id, const char *status, const char *metadata) {
    JobRecord j;
    job_init(&j, id, status, metadata);
    Err err;
    return store_job_create(s, &j, &err);
}

/* ---- open ---- */

/* ftune.db in WAL mode with schema version 9, seen through a second connection. */
static void open_sqlite_checks(const char *dir) {
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/ftune.db", dir);
    CHECK(file_exists(path));
    sqlite3 *db;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    sqlite3_stmt *st;
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(st, 0), "wal") == 0);
    sqlite3_finalize(st);
    REQUIRE(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK);
    CHECK(sqlite3_step(st) == SQLITE_ROW);
    CHECK_EQ_INT(sqlite3_column_int(st, 0), 9);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static void open_body(Store *s, const char *dir) {
    char path[PATH_LEN];
    CHECK(strcmp(store_data_dir(s), dir) == 0);
    snprintf(path, sizeof path, "%s/files", dir);
    CHECK(file_is_dir(path));
    if (test_on_postgres()) { /* schema version 9, seen through a second connection; no ftune.db */
        char version[16];
        test_pg_sql(dir, "SELECT version FROM schema_version", version, sizeof version);
        CHECK(strcmp(version, "9") == 0);
    } else {
        open_sqlite_checks(dir);
    }
    /* a nested directory that does not exist yet is created */
    char nested[PATH_LEN / 2];
    snprintf(nested, sizeof nested, "%s/a/b", dir);
    Store *s2;
    Err err;
    REQUIRE(store_open(nested, test_database(nested), &s2, &err) == 0);
    snprintf(path, sizeof path, "%s/files", nested);
    CHECK(file_is_dir(path));
    store_close(s2);
    /* a data directory that is a regular file is refused with its name */
    snprintf(path, sizeof path, "%s/plain-file", dir);
    REQUIRE(file_write_atomic(path, "x", 1, &err) == 0);
    CHECK_EQ_INT(store_open(path, test_database(path), &s2, &err), -1);
    CHECK(s2 == NULL);
    CHECK(strstr(err.msg, "plain-file") != NULL);
    store_close(NULL);
}
TEST(store_open_creates_db_and_files_dir) { with_store(open_body); }

static void reopen_body(Store *s, const char *dir) {
    Err err;
    FileRecord f;
    REQUIRE(store_file_create(s, STORE_DEFAULT_PROJECT, "a.jsonl", "fine-tune", "{}\n", 3, &f, &err) == 0);
    REQUIRE(add_job(s, "ftjob-persist", "queued", "{\"k\":\"v\"}") == 0);
    EventRecord e;
    REQUIRE(store_event_add(s, "ftjob-persist", "info", "message", "Job created", NULL, &e, &err) == 0);
    Store *s2;
    REQUIRE(store_open(dir, test_database(dir), &s2, &err) == 0); /* a second connection sees committed rows */
    FileRecord f2;
    CHECK_EQ_INT(store_file_get(s2, f.id, &f2, &err), 0);
    store_close(s2);
    REQUIRE(store_open(dir, test_database(dir), &s2, &err) == 0);
    store_close(s2);
    FileRecord g;
    REQUIRE(store_file_get(s, f.id, &g, &err) == 0);
    CHECK(strcmp(g.filename, "a.jsonl") == 0);
    CHECK_EQ_INT(g.bytes, 3);
    JobRecord j;
    REQUIRE(store_job_get(s, "ftjob-persist", &j, &err) == 0);
    CHECK(strcmp(j.metadata, "{\"k\":\"v\"}") == 0);
    EventRecord *ev;
    int n;
    bool more;
    REQUIRE(store_event_list(s, "ftjob-persist", NULL, 10, &ev, &n, &more, &err) == 0);
    CHECK_EQ_INT(n, 1);
    if (n == 1) CHECK(strcmp(ev[0].id, e.id) == 0 && strcmp(ev[0].message, "Job created") == 0);
    free(ev);
}

TEST(store_reopen_sees_same_data) {
    /* close the first store too: the data must come back from disk */
    char dir[] = "/tmp/ftune_test_store_XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    Store *s;
    Err err;
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    FileRecord f;
    REQUIRE(store_file_create(s, STORE_DEFAULT_PROJECT, "a.jsonl", "fine-tune", "{}\n", 3, &f, &err) == 0);
    store_close(s);
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    FileRecord g;
    CHECK_EQ_INT(store_file_get(s, f.id, &g, &err), 0);
    CHECK(strcmp(g.id, f.id) == 0 && g.created_at == f.created_at && strcmp(g.purpose, "fine-tune") == 0);
    store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    with_store(reopen_body);
}

/* ---- files ---- */

static void files_body(Store *s, const char *dir) {
    Err err;
    (void)dir;
    /* seven files: purposes alternate, so "fine-tune" is f[0], f[2], f[4], f[6] */
    FileRecord f[7];
    for (int i = 0; i < 7; i++) {
        char name[32], data[64];
        snprintf(name, sizeof name, "f%d.jsonl", i);
        int len = snprintf(data, sizeof data, "line %d\n%c", i, 0); /* includes a NUL byte */
        REQUIRE(store_file_create(s, STORE_DEFAULT_PROJECT, name, i % 2 ? "fine-tune-results" : "fine-tune", data, (size_t)len + 1, &f[i],
                                  &err) == 0);
        CHECK(strncmp(f[i].id, "file-", 5) == 0);
        CHECK_EQ_INT(f[i].bytes, len + 1);
        char path[PATH_LEN];
        store_file_path(s, f[i].id, path, sizeof path);
        char *got;
        size_t got_len;
        REQUIRE(file_read_all(path, 1024, &got, &got_len, &err) == 0);
        CHECK_EQ_INT(got_len, len + 1);
        CHECK(memcmp(got, data, got_len) == 0);
        free(got);
    }
    FileRecord g;
    REQUIRE(store_file_get(s, f[3].id, &g, &err) == 0);
    CHECK(strcmp(g.filename, "f3.jsonl") == 0 && strcmp(g.purpose, "fine-tune-results") == 0);
    CHECK_EQ_INT(g.bytes, f[3].bytes);
    CHECK_EQ_INT(g.created_at, f[3].created_at);
    CHECK_EQ_INT(store_file_get(s, "file-nope", &g, &err), STORE_NOT_FOUND);

    FileRecord *items;
    int n;
    bool more;
    /* purpose filter, newest first */
    REQUIRE(store_file_list(s, NULL, "fine-tune", NULL, 100, false, &items, &n, &more, &err) == 0);
    CHECK_EQ_INT(n, 4);
    CHECK(!more);
    for (int i = 0; i < n && i < 4; i++) CHECK(strcmp(items[i].id, f[6 - 2 * i].id) == 0);
    free(items);
    /* all, oldest first, across three pages of 3, 3, 1 */
    const char *after = NULL;
    char cursor[STORE_ID_MAX];
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        REQUIRE(store_file_list(s, NULL, NULL, after, 3, true, &items, &n, &more, &err) == 0);
        CHECK_EQ_INT(n, page < 2 ? 3 : 1);
        CHECK(more == (page < 2));
        for (int i = 0; i < n; i++) CHECK(strcmp(items[i].id, f[seen + i].id) == 0);
        seen += n;
        if (n) snprintf(cursor, sizeof cursor, "%s", items[n - 1].id);
        after = cursor;
        free(items);
    }
    CHECK_EQ_INT(seen, 7);
    /* newest first after f[4]: f[3], f[2] (limit 2, more follow) */
    REQUIRE(store_file_list(s, NULL, NULL, f[4].id, 2, false, &items, &n, &more, &err) == 0);
    CHECK_EQ_INT(n, 2);
    CHECK(more);
    if (n == 2) CHECK(strcmp(items[0].id, f[3].id) == 0 && strcmp(items[1].id, f[2].id) == 0);
    free(items);
    /* exactly the rest: no more */
    REQUIRE(store_file_list(s, NULL, NULL, f[2].id, 2, false, &items, &n, &more, &err) == 0);
    CHECK_EQ_INT(n, 2);
    CHECK(!more);
    free(items);
    /* limit 0 is clamped to 1 */
    REQUIRE(store_file_list(s, NULL, NULL, NULL, 0, true, &items, &n, &more, &err) == 0);
    CHECK_EQ_INT(n, 1);
    CHECK(more);
    free(items);
    CHECK_EQ_INT(store_file_list(s, NULL, NULL, "file-unknown", 10, true, &items, &n, &more, &err), STORE_NOT_FOUND);
    CHECK(items == NULL && n == 0);
}
TEST(store_file_create_get_list) { with_store(files_body); }

static void file_delete_body(Store *s, const char *dir) {
    Err err;
    (void)dir;
    FileRecord a, b;
    REQUIRE(store_file_create(s, STORE_DEFAULT_PROJECT, "a", "fine-tune", "abc", 3, &a, &err) == 0);
    REQUIRE(store_file_create(s, STORE_DEFAULT_PROJECT, "b", "fine-tune", "", 0, &b, &err) == 0);
    char path[PATH_LEN];
    store_file_path(s, a.id, path, sizeof path);
    REQUIRE(file_exists(path));
    CHECK_EQ_INT(store_file_delete(s, a.id, &err), 0);
    CHECK(!file_exists(path));
    FileRecord g;
    CHECK_EQ_INT(store_file_get(s, a.id, &g, &err), STORE_NOT_FOUND);
    CHECK_EQ_INT(store_file_delete(s, a.id, &err), STORE_NOT_FOUND);
    /* a blob already gone is not an error */
    store_file_path(s, b.id, path, sizeof path);
    REQUIRE(unlink(path) == 0);
    CHECK_EQ_INT(store_file_delete(s, b.id, &err), 0);
    FileRecord *items;
    int n;
    bool more;
    REQUIRE(store_file_list(s, NULL, NULL, NULL, 10, false, &items, &n, &more, &err) == 0);
    CHECK_EQ_INT(n, 0);
    free(items);
}
TEST(store_file_delete_removes_row_and_blob) { with_store(file_delete_body); }

static void truncate_body(Store *s, const char *dir) {
    Err err;
    (void)dir;
    /* 300 bytes of two-byte characters: cut to 254 bytes (127 whole characters), never mid-character */
    char name[301];
    for (int i = 0; i < 300; i += 2) memcpy(name + i, "\xc3\xa9", 2);
    name[300] = 0;
    FileRecord f, g;
    REQUIRE(store_file_create(s, STORE_DEFAULT_PROJECT, name, "fine-tune", "x", 1, &f, &err) == 0);
    REQUIRE(store_file_get(s, f.id, &g, &err) == 0);
    CHECK_EQ_INT(strlen(g.filename), 254);
    CHECK(strcmp(g.filename, f.filename) == 0);
    CHECK(memcmp(g.filename, name, 254) == 0);
}
TEST(store_long_strings_truncate_at_utf8_boundary) { with_store(truncate_body); }

/* ---- jobs ---- */

static void check_job_equal(const JobRecord *a, const JobRecord *b) {
    CHECK(strcmp(a->id, b->id) == 0);
    CHECK(strcmp(a->project, b->project) == 0);
    CHECK_EQ_INT(a->created_at, b->created_at);
    CHECK(strcmp(a->model, b->model) == 0);
    CHECK(strcmp(a->training_file, b->training_file) == 0);
    CHECK(strcmp(a->validation_file, b->validation_file) == 0);
    CHECK(strcmp(a->suffix, b->suffix) == 0);
    CHECK_EQ_INT(a->seed, b->seed);
    CHECK(strcmp(a->status, b->status) == 0);
    CHECK(strcmp(a->n_epochs, b->n_epochs) == 0);
    CHECK(strcmp(a->batch_size, b->batch_size) == 0);
    CHECK(strcmp(a->lr_multiplier, b->lr_multiplier) == 0);
    CHECK(strcmp(a->metadata, b->metadata) == 0);
    CHECK(strcmp(a->fine_tuned_model, b->fine_tuned_model) == 0);
    CHECK_EQ_INT(a->finished_at, b->finished_at);
    CHECK_EQ_INT(a->trained_tokens, b->trained_tokens);
    CHECK_EQ_INT(a->estimated_finish, b->estimated_finish);
    CHECK(strcmp(a->result_file, b->result_file) == 0);
    CHECK(strcmp(a->error_code, b->error_code) == 0);
    CHECK(strcmp(a->error_param, b->error_param) == 0);
    CHECK(strcmp(a->error_message, b->error_message) == 0);
    CHECK_EQ_INT(a->step, b->step);
    CHECK_EQ_INT(a->total_steps, b->total_steps);
    CHECK_EQ_INT(a->model_deleted, b->model_deleted);
    CHECK_EQ_STR(a->base_model, b->base_model);
    CHECK_EQ_STR(a->parent_model, b->parent_model);
    CHECK_EQ_STR(a->name_base, b->name_base);
}

static void job_roundtrip_body(Store *s, const char *dir) {
    Err err;
    (void)dir;
    /* the "null" values first: "", 0 and -1 come back as themselves */
    JobRecord j, g;
    job_init(&j, "ftjob-abc", "validating_files", "");
    REQUIRE(store_job_create(s, &j, &err) == 0);
    REQUIRE(store_job_get(s, "ftjob-abc", &g, &err) == 0);
    check_job_equal(&j, &g);
    CHECK_EQ_INT(g.trained_tokens, -1);
    /* then every column with a value */
    snprintf(j.model, sizeof j.model, "Qwen2.5-0.5B");
    snprintf(j.training_file, sizeof j.training_file, "file-t2");
    snprintf(j.validation_file, sizeof j.validation_file, "file-v");
    snprintf(j.suffix, sizeof j.suffix, "my-suffix");
    j.seed = -42;
    j.created_at = 1712345678;
    snprintf(j.status, sizeof j.status, "succeeded");
    snprintf(j.n_epochs, sizeof j.n_epochs, "3");
    snprintf(j.batch_size, sizeof j.batch_size, "8");
    snprintf(j.lr_multiplier, sizeof j.lr_multiplier, "1.8");
    snprintf(j.metadata, sizeof j.metadata, "{\"team\":\"a\",\"quote\\\"d\":\"x\\\\y\"}");
    snprintf(j.fine_tuned_model, sizeof j.fine_tuned_model, "ft:Qwen2.5-0.5B:my-suffix:abc");
    j.finished_at = 1712349999;
    j.trained_tokens = 0; /* zero tokens is a value, not null */
    j.estimated_finish = 1712350000;
    snprintf(j.result_file, sizeof j.result_file, "file-result");
    snprintf(j.error_code, sizeof j.error_code, "invalid_training_file");
    snprintf(j.error_param, sizeof j.error_param, "training_file");
    snprintf(j.error_message, sizeof j.error_message, "line 3: ünïcode \"quoted\"");
    j.step = 120;
    j.total_steps = 300;
    j.model_deleted = true;
    snprintf(j.base_model, sizeof j.base_model, "Qwen2.5-0.5B.Q4_K_M");
    snprintf(j.parent_model, sizeof j.parent_model, "ft:gpt-4o-mini-2024-07-18:ftune:v1:abcdefgh");
    snprintf(j.name_base, sizeof j.name_base, "gpt-4o-mini-2024-07-18");
    REQUIRE(store_job_update(s, &j, &err) == 0);
    REQUIRE(store_job_get(s, "ftjob-abc", &g, &err) == 0);
    check_job_equal(&j, &g);
    /* and back */
    job_init(&j, "ftjob-abc", "queued", "");
    REQUIRE(store_job_update(s, &j, &err) == 0);
    REQUIRE(store_job_get(s, "ftjob-abc", &g, &err) == 0);
    check_job_equal(&j, &g);
    job_init(&j, "ftjob-missing", "queued", "");
    CHECK_EQ_INT(store_job_update(s, &j, &err), STORE_NOT_FOUND);
    CHECK_EQ_INT(store_job_get(s, "ftjob-missing", &g, &err), STORE_NOT_FOUND);
    /* a duplicate id fails, naming the database */
    job_init(&j, "ftjob-abc", "queued", "");
    CHECK_EQ_INT(store_job_create(s, &j, &err), -1);
    CHECK(strstr(err.msg, test_on_postgres() ? "postgresql://" : "ftune.db: insert job:") != NULL);
    CHECK(strstr(err.msg, "insert job:") != NULL);
}
TEST(store_job_roundtrip_every_field) { with_store(job_roundtrip_body); }

static void transition_body(Store *s, const char *dir) {
    Err err;
    (void)dir;
    REQUIRE(add_job(s, "ftjob-t", "queued", "") == 0);
    const char *from_queued[] = {"queued", "paused"};
    char current[STORE_ID_MAX] = "";
    CHECK_EQ_INT(store_job_transition(s, "ftjob-t", from_queued, 2, "running", current, &err), 0);
    JobRecord g;
    REQUIRE(store_job_get(s, "ftjob-t", &g, &err) == 0);
    CHECK(strcmp(g.status, "running") == 0);
    /* a second claim conflicts and reports the current status */
    CHECK_EQ_INT(store_job_transition(s, "ftjob-t", from_queued, 2, "running", current, &err), STORE_CONFLICT);
    CHECK(strcmp(current, "running") == 0);
    CHECK_EQ_INT(store_job_transition(s, "ftjob-t", from_queued, 2, "running", NULL, &err), STORE_CONFLICT);
    CHECK_EQ_INT(store_job_transition(s, "ftjob-none", from_queued, 2, "running", current, &err), STORE_NOT_FOUND);
    const char *from_running[] = {"running"};
    CHECK_EQ_INT(store_job_transition(s, "ftjob-t", from_running, 1, "succeeded", current, &err), 0);
    REQUIRE(store_job_get(s, "ftjob-t", &g, &err) == 0);
    CHECK(strcmp(g.status, "succeeded") == 0);

    /* update_if: the worker's progress write lands while the job is running, and is refused
     * (leaving the row alone) once someone else cancelled it */
    REQUIRE(add_job(s, "ftjob-u", "running", "") == 0);
    JobRecord w;
    REQUIRE(store_job_get(s, "ftjob-u", &w, &err) == 0);
    w.step = 5;
    CHECK_EQ_INT(store_job_update_if(s, &w, "running", &err), 0);
    REQUIRE(store_job_get(s, "ftjob-u", &g, &err) == 0);
    CHECK_EQ_INT(g.step, 5);
    const char *from_run[] = {"running"};
    REQUIRE(store_job_transition(s, "ftjob-u", from_run, 1, "cancelled", NULL, &err) == 0);
    w.step = 6;
    CHECK_EQ_INT(store_job_update_if(s, &w, "running", &err), STORE_CONFLICT);
    REQUIRE(store_job_get(s, "ftjob-u", &g, &err) == 0);
    CHECK(strcmp(g.status, "cancelled") == 0);
    CHECK_EQ_INT(g.step, 5);
    job_init(&w, "ftjob-gone", "running", "");
    CHECK_EQ_INT(store_job_update_if(s, &w, "running", &err), STORE_NOT_FOUND);
}
TEST(store_job_transition_request_update_if) { with_store(transition_body); }

static void oldest_body(Store *s, const char *dir) {
    Err err;
    (void)dir;
    /* same created_at for all: creation order is the insertion order */
    REQUIRE(add_job(s, "ftjob-c", "queued", "") == 0);
    REQUIRE(add_job(s, "ftjob-r", "running", "") == 0);
    REQUIRE(add_job(s, "ftjob-a", "queued", "") == 0);
    REQUIRE(add_job(s, "ftjob-b", "queued", "") == 0);
    JobRecord g;
    REQUIRE(store_job_oldest(s, "queued", &g, &err) == 0);
    CHECK(strcmp(g.id, "ftjob-c") == 0);
    const char *from[] = {"queued"};
    REQUIRE(store_job_transition(s, "ftjob-c", from, 1, "running", NULL, &err) == 0);
    REQUIRE(store_job_oldest(s, "queued", &g, &err) == 0);
    CHECK(strcmp(g.id, "ftjob-a") == 0);
    REQUIRE(store_job_oldest(s, "running", &g, &err) == 0);
    CHECK(strcmp(g.id, "ftjob-c") == 0); /* ftjob-c was created before ftjob-r */
    CHECK_EQ_INT(store_job_oldest(s, "paused", &g, &err), STORE_NOT_FOUND);

    const char *statuses[] = {"queued", "running", "succeeded"};
    long long counts[3] = {-1, -1, -1};
    REQUIRE(store_job_count_by_status(s, NULL, statuses, 3, counts, &err) == 0);
    CHECK_EQ_INT(counts[0], 2);
    CHECK_EQ_INT(counts[1], 2);
    CHECK_EQ_INT(counts[2], 0);
}
TEST(store_job_oldest_and_counts) { with_store(oldest_body); }

/* ids of a job list page joined with spaces, for exact comparisons */
static void ids_of(const JobRecord *items, int n, char *out, size_t size) {
    out[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t len = strlen(out);
        snprintf(out + len, size - len, "%s%s", i ? " " : "", items[i].id);
    }
}

static void list_jobs(Store *s, const char *after, int limit, const char *const *keys, const char *const *values,
                      int n_filter, bool null_only, char *ids, size_t size, bool *more) {
    JobRecord *items;
    int n;
    Err err;
    ids[0] = 0;
    int rc = store_job_list(s, NULL, after, limit, keys, values, n_filter, null_only, &items, &n, more, &err);
    if (rc) {
        test_fail(__FILE__, __LINE__, "store_job_list: %d %s", rc, rc < 0 ? err.msg : "");
        return;
    }
    ids_of(items, n, ids, size);
    free(items);
}

static void job_list_body(Store *s, const char *dir) {
    (void)dir;
    REQUIRE(add_job(s, "j1", "queued", "{\"team\":\"a\",\"env\":\"prod\"}") == 0);
    REQUIRE(add_job(s, "j2", "queued", "") == 0);
    REQUIRE(add_job(s, "j3", "queued", "{\"team\":\"a\",\"env\":\"dev\"}") == 0);
    REQUIRE(add_job(s, "j4", "queued", "{\"env\":\"prod\",\"team\":\"a\",\"x\":\"1\"}") == 0);
    REQUIRE(add_job(s, "j5", "queued", "{\"team\":\"b\",\"env\":\"prod\"}") == 0);
    REQUIRE(add_job(s, "j6", "queued", "{\"we\\\"ird.key\":\"v\\\\1\"}") == 0);
    REQUIRE(add_job(s, "j7", "queued", "") == 0);
    char ids[256];
    bool more;
    list_jobs(s, NULL, 100, NULL, NULL, 0, false, ids, sizeof ids, &more);
    CHECK(strcmp(ids, "j7 j6 j5 j4 j3 j2 j1") == 0);
    CHECK(!more);
    /* two pairs: team=a and env=prod */
    const char *keys[] = {"team", "env"}, *values[] = {"a", "prod"};
    list_jobs(s, NULL, 100, keys, values, 2, false, ids, sizeof ids, &more);
    CHECK(strcmp(ids, "j4 j1") == 0);
    list_jobs(s, NULL, 1, keys, values, 2, false, ids, sizeof ids, &more);
    CHECK(strcmp(ids, "j4") == 0);
    CHECK(more);
    list_jobs(s, "j4", 1, keys, values, 2, false, ids, sizeof ids, &more);
    CHECK(strcmp(ids, "j1") == 0);
    CHECK(!more);
    list_jobs(s, NULL, 100, keys, values, 1, false, ids, sizeof ids, &more);
    CHECK(strcmp(ids, "j4 j3 j1") == 0);
    /* a key holding a quote and a dot, a value holding a backslash: matched as decoded text */
    const char *wk[] = {"we\"ird.key"}, *wv[] = {"v\\1"};
    list_jobs(s, NULL, 100, wk, wv, 1, false, ids, sizeof ids, &more);
    CHECK(strcmp(ids, "j6") == 0);
    /* a value that is a prefix of a stored one does not match */
    const char *pk[] = {"env"}, *pv[] = {"pro"};
    list_jobs(s, NULL, 100, pk, pv, 1, false, ids, sizeof ids, &more);
    CHECK(strcmp(ids, "") == 0);
    list_jobs(s, NULL, 100, NULL, NULL, 0, true, ids, sizeof ids, &more);
    CHECK(strcmp(ids, "j7 j2") == 0);
    list_jobs(s, "j5", 2, NULL, NULL, 0, false, ids, sizeof ids, &more);
    CHECK(strcmp(ids, "j4 j3") == 0);
    CHECK(more);
    JobRecord *items;
    int n;
    Err err;
    CHECK_EQ_INT(store_job_list(s, NULL, "ftjob-unknown", 10, NULL, NULL, 0, false, &items, &n, &more, &err),
                 STORE_NOT_FOUND);
}
TEST(store_job_list_metadata_filter) { with_store(job_list_body); }

static void by_model_body(Store *s, const char *dir) {
    Err err;
    (void)dir;
    JobRecord j, g;
    job_init(&j, "ftjob-ok", "succeeded", "");
    snprintf(j.fine_tuned_model, sizeof j.fine_tuned_model, "ft:base:x:1");
    REQUIRE(store_job_create(s, &j, &err) == 0);
    job_init(&j, "ftjob-fail", "failed", "");
    snprintf(j.fine_tuned_model, sizeof j.fine_tuned_model, "ft:base:x:2");
    REQUIRE(store_job_create(s, &j, &err) == 0);
    CHECK_EQ_INT(store_job_by_model(s, "ft:base:x:1", &g, &err), 0);
    CHECK(strcmp(g.id, "ftjob-ok") == 0);
    CHECK_EQ_INT(store_job_by_model(s, "ft:base:x:2", &g, &err), STORE_NOT_FOUND); /* not succeeded */
    CHECK_EQ_INT(store_job_by_model(s, "ft:base:x:3", &g, &err), STORE_NOT_FOUND);

    CheckpointRecord c, cg;
    REQUIRE(store_checkpoint_add(s, "ftjob-ok", 10, "ft:base:x:1:ckpt-step-10", "{\"loss\":1.5}", "/d/10", &c, &err) ==
            0);
    CHECK_EQ_INT(store_checkpoint_by_model(s, "ft:base:x:1:ckpt-step-10", &cg, &err), 0);
    CHECK(strcmp(cg.id, c.id) == 0 && strcmp(cg.job_id, "ftjob-ok") == 0);
    CHECK(strcmp(cg.metrics, "{\"loss\":1.5}") == 0 && strcmp(cg.dir, "/d/10") == 0);
    CHECK_EQ_INT(cg.step, 10);

    /* deleting the model hides the job and its checkpoints */
    REQUIRE(store_job_get(s, "ftjob-ok", &g, &err) == 0);
    g.model_deleted = true;
    REQUIRE(store_job_update(s, &g, &err) == 0);
    CHECK_EQ_INT(store_job_by_model(s, "ft:base:x:1", &g, &err), STORE_NOT_FOUND);
    CHECK_EQ_INT(store_checkpoint_by_model(s, "ft:base:x:1:ckpt-step-10", &cg, &err), STORE_NOT_FOUND);
}
TEST(store_job_by_model_respects_deleted_and_status) { with_store(by_model_body); }

/* ---- events ---- */

static void events_body(Store *s, const char *dir) {
    Err err;
    (void)dir;
    REQUIRE(add_job(s, "ftjob-e", "running", "") == 0);
    REQUIRE(add_job(s, "ftjob-other", "running", "") == 0);
    /* 25 events, all within a second or two: insertion order must survive */
    EventRecord added[25];
    for (int i = 0; i < 25; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "Step %d/25", i + 1);
        REQUIRE(store_event_add(s, "ftjob-e", i == 24 ? "warn" : "info", i % 2 ? "metrics" : "message", msg,
                                i % 2 ? "{\"step\":1}" : NULL, &added[i], &err) == 0);
        CHECK(strncmp(added[i].id, "ftevent-", 8) == 0);
    }
    EventRecord other;
    REQUIRE(store_event_add(s, "ftjob-other", "info", "message", "other", NULL, &other, &err) == 0);
    /* pages of 10, 10, 5, newest first */
    EventRecord *items;
    int n;
    bool more;
    const char *after = NULL;
    char cursor[STORE_ID_MAX];
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        REQUIRE(store_event_list(s, "ftjob-e", after, 10, &items, &n, &more, &err) == 0);
        CHECK_EQ_INT(n, page < 2 ? 10 : 5);
        CHECK(more == (page < 2));
        for (int i = 0; i < n; i++) {
            const EventRecord *want = &added[24 - seen - i];
            CHECK(strcmp(items[i].id, want->id) == 0);
            CHECK(strcmp(items[i].message, want->message) == 0);
            CHECK(strcmp(items[i].level, want->level) == 0);
            CHECK(strcmp(items[i].type, want->type) == 0);
            CHECK(strcmp(items[i].data, want->data) == 0);
            CHECK_EQ_INT(items[i].created_at, want->created_at);
        }
        seen += n;
        if (n) snprintf(cursor, sizeof cursor, "%s", items[n - 1].id);
        after = cursor;
        free(items);
    }
    CHECK_EQ_INT(seen, 25);
    CHECK(strcmp(added[1].data, "{\"step\":1}") == 0 && added[0].data[0] == 0);
    CHECK(strcmp(added[24].level, "warn") == 0);
    /* cursors: unknown, or another job's event */
    CHECK_EQ_INT(store_event_list(s, "ftjob-e", "ftevent-nope", 10, &items, &n, &more, &err), STORE_NOT_FOUND);
    CHECK_EQ_INT(store_event_list(s, "ftjob-e", other.id, 10, &items, &n, &more, &err), STORE_NOT_FOUND);
    /* an event for a job that does not exist */
    CHECK_EQ_INT(store_event_add(s, "ftjob-none", "info", "message", "x", NULL, NULL, &err), STORE_NOT_FOUND);
    REQUIRE(store_event_list(s, "ftjob-none", NULL, 10, &items, &n, &more, &err) == 0);
    CHECK_EQ_INT(n, 0);
    free(items);
}
TEST(store_events_keep_insertion_order) { with_store(events_body); }

/* ---- checkpoints ---- */

static void checkpoints_body(Store *s, const char *dir) {
    Err err;
    (void)dir;
    REQUIRE(add_job(s, "ftjob-k", "running", "") == 0);
    static const long long steps[] = {10, 30, 20, 30};
    CheckpointRecord c[4];
    for (int i = 0; i < 4; i++) {
        char model[64], path[64];
        snprintf(model, sizeof model, "ft:m:k:%d:ckpt-step-%lld", i, steps[i]);
        snprintf(path, sizeof path, "/ckpt/%d", i);
        REQUIRE(store_checkpoint_add(s, "ftjob-k", steps[i], model, "{}", path, &c[i], &err) == 0);
        CHECK(strncmp(c[i].id, "ftckpt_", 7) == 0);
        CHECK_EQ_INT(strlen(c[i].id), 7 + 24);
    }
    /* order: step 30 (newest first: c[3], c[1]), 20 (c[2]), 10 (c[0]) */
    static const int order[] = {3, 1, 2, 0};
    CheckpointRecord *items;
    int n;
    bool more;
    REQUIRE(store_checkpoint_list(s, "ftjob-k", NULL, 10, &items, &n, &more, &err) == 0);
    CHECK_EQ_INT(n, 4);
    CHECK(!more);
    for (int i = 0; i < n && i < 4; i++) {
        CHECK(strcmp(items[i].id, c[order[i]].id) == 0);
        CHECK_EQ_INT(items[i].step, steps[order[i]]);
        CHECK(strcmp(items[i].dir, c[order[i]].dir) == 0);
    }
    free(items);
    /* one at a time: the cursor works between two checkpoints of the same step */
    const char *after = NULL;
    char cursor[STORE_ID_MAX];
    for (int i = 0; i < 4; i++) {
        REQUIRE(store_checkpoint_list(s, "ftjob-k", after, 1, &items, &n, &more, &err) == 0);
        REQUIRE(n == 1);
        CHECK(strcmp(items[0].id, c[order[i]].id) == 0);
        CHECK(more == (i < 3));
        snprintf(cursor, sizeof cursor, "%s", items[0].id);
        after = cursor;
        free(items);
    }
    CHECK_EQ_INT(store_checkpoint_list(s, "ftjob-k", "ftckpt_nope", 1, &items, &n, &more, &err), STORE_NOT_FOUND);
    CheckpointRecord g;
    CHECK_EQ_INT(store_checkpoint_by_model(s, "ft:m:k:2:ckpt-step-20", &g, &err), 0);
    CHECK(strcmp(g.id, c[2].id) == 0);
    CHECK_EQ_INT(store_checkpoint_delete(s, c[2].id, &err), 0);
    CHECK_EQ_INT(store_checkpoint_delete(s, c[2].id, &err), STORE_NOT_FOUND);
    CHECK_EQ_INT(store_checkpoint_by_model(s, "ft:m:k:2:ckpt-step-20", &g, &err), STORE_NOT_FOUND);
    REQUIRE(store_checkpoint_list(s, "ftjob-k", NULL, 10, &items, &n, &more, &err) == 0);
    CHECK_EQ_INT(n, 3);
    free(items);
    CHECK_EQ_INT(store_checkpoint_add(s, "ftjob-none", 1, "m", "{}", "/x", NULL, &err), STORE_NOT_FOUND);
}
TEST(store_checkpoints_order_by_step) { with_store(checkpoints_body); }

/* Runs sql on the database of dir through a connection of its own; the first column of its first
 * row (if any) into out. */
static void raw_sql(const char *dir, const char *sql, char *out, size_t size) {
    if (test_on_postgres()) {
        test_pg_sql(dir, sql, out, size);
        return;
    }
    char path[PATH_LEN];
    snprintf(path, sizeof path, "%s/ftune.db", dir);
    sqlite3 *db;
    sqlite3_stmt *st;
    if (out) out[0] = 0;
    if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        test_fail(__FILE__, __LINE__, "%s: %s", sql, sqlite3_errmsg(db));
        sqlite3_close(db);
        return;
    }
    if (sqlite3_step(st) == SQLITE_ROW && out) snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* Checkpoint directories are recorded relative to the data directory (a server started from
 * another working directory finds them) and come back with the data directory in front; a
 * version 1 database, whose rows hold the path the server was given, is migrated on open. */
static void checkpoint_paths_body(Store *s, const char *dir) {
    Err err;
    REQUIRE(add_job(s, "ftjob-p", "running", "") == 0);
    char path[PATH_LEN], raw[PATH_LEN], want[PATH_LEN];
    snprintf(path, sizeof path, "%s/jobs/ftjob-p/checkpoint-5", dir);
    REQUIRE(store_checkpoint_add(s, "ftjob-p", 5, "ft:m:p:ckpt-step-5", "{}", path, NULL, &err) == 0);
    raw_sql(dir, "SELECT dir FROM checkpoints", raw, sizeof raw);
    CHECK(strcmp(raw, "jobs/ftjob-p/checkpoint-5") == 0);
    CheckpointRecord g;
    REQUIRE(store_checkpoint_by_model(s, "ft:m:p:ckpt-step-5", &g, &err) == 0);
    CHECK(strcmp(g.dir, path) == 0);
    if (test_on_postgres()) return; /* no PostgreSQL database had version 1 */
    /* as version 1 left it: the path relative to some other working directory */
    raw_sql(dir, "UPDATE checkpoints SET dir = 'old-cwd/ftune-data/jobs/ftjob-p/checkpoint-5'", NULL, 0);
    raw_sql(dir, "PRAGMA user_version = 1", NULL, 0);
    Store *s2;
    REQUIRE(store_open(dir, test_database(dir), &s2, &err) == 0);
    raw_sql(dir, "SELECT dir FROM checkpoints", raw, sizeof raw);
    CHECK(strcmp(raw, "jobs/ftjob-p/checkpoint-5") == 0);
    raw_sql(dir, "PRAGMA user_version", raw, sizeof raw);
    CHECK(strcmp(raw, "9") == 0);
    CheckpointRecord *items;
    int n;
    bool more;
    REQUIRE(store_checkpoint_list(s2, "ftjob-p", NULL, 10, &items, &n, &more, &err) == 0);
    snprintf(want, sizeof want, "%s/jobs/ftjob-p/checkpoint-5", dir);
    CHECK(n == 1 && strcmp(items[0].dir, want) == 0);
    free(items);
    store_close(s2);
}
TEST(store_checkpoint_dirs_relative_to_data_dir) { with_store(checkpoint_paths_body); }

/* Aliases: set creates, set again re-points (created_at kept, updated_at and target changed), get,
 * list by name, delete once; empty and too long names and targets are refused naming the field. */
static void aliases_body(Store *s, const char *dir) {
    (void)dir;
    Err err = {0};
    AliasRecord a;
    bool created = false;
    CHECK_EQ_INT(store_alias_get(s, "triage-prod", &a, &err), STORE_NOT_FOUND);
    REQUIRE(store_alias_set(s, "triage-prod", "ft:m:ftune:v1:aaaa", &created, &err) == 0);
    CHECK(created);
    REQUIRE(store_alias_get(s, "triage-prod", &a, &err) == 0);
    CHECK_EQ_STR(a.name, "triage-prod");
    CHECK_EQ_STR(a.target, "ft:m:ftune:v1:aaaa");
    CHECK(a.created_at > 0 && a.updated_at == a.created_at);
    long long first = a.created_at;
    REQUIRE(store_alias_set(s, "triage-prod", "ft:m:ftune:v2:bbbb", &created, &err) == 0);
    CHECK(!created);
    REQUIRE(store_alias_get(s, "triage-prod", &a, &err) == 0);
    CHECK_EQ_STR(a.target, "ft:m:ftune:v2:bbbb");
    CHECK(a.created_at == first && a.updated_at >= first);
    REQUIRE(store_alias_set(s, "gpt-4o-mini-2024-07-18", "SmolLM2-135M-Instruct.Q4_1", NULL, &err) == 0);
    AliasRecord *list;
    int n;
    REQUIRE(store_alias_list(s, &list, &n, &err) == 0);
    CHECK_EQ_INT(n, 2);
    if (n == 2) {
        CHECK_EQ_STR(list[0].name, "gpt-4o-mini-2024-07-18"); /* by name */
        CHECK_EQ_STR(list[1].name, "triage-prod");
        CHECK_EQ_STR(list[1].target, "ft:m:ftune:v2:bbbb");
    }
    free(list);
    CHECK_EQ_INT(store_alias_set(s, "", "x", NULL, &err), -1);
    CHECK(strstr(err.msg, "alias name is empty") != NULL);
    CHECK_EQ_INT(store_alias_set(s, "x", "", NULL, &err), -1);
    CHECK(strstr(err.msg, "alias target is empty") != NULL);
    char longname[STORE_NAME_MAX + 8];
    memset(longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = 0;
    CHECK_EQ_INT(store_alias_set(s, longname, "x", NULL, &err), -1);
    CHECK(strstr(err.msg, "alias name is longer") != NULL);
    REQUIRE(store_alias_delete(s, "triage-prod", &err) == 0);
    CHECK_EQ_INT(store_alias_delete(s, "triage-prod", &err), STORE_NOT_FOUND);
    CHECK_EQ_INT(store_alias_get(s, "triage-prod", &a, &err), STORE_NOT_FOUND);
    REQUIRE(store_alias_list(s, &list, &n, &err) == 0);
    CHECK_EQ_INT(n, 1);
    free(list);
}
TEST(store_aliases_set_repoint_list_delete) { with_store(aliases_body); }

/* A second connection (another process: `ftune alias` beside the server) sees a re-pointed alias
 * at its next read, without reopening. */
static void aliases_live_body(Store *s, const char *dir) {
    Err err = {0};
    Store *other;
    REQUIRE(store_open(dir, test_database(dir), &other, &err) == 0);
    AliasRecord a;
    REQUIRE(store_alias_set(other, "prod", "ft:a", NULL, &err) == 0);
    REQUIRE(store_alias_get(s, "prod", &a, &err) == 0);
    CHECK_EQ_STR(a.target, "ft:a");
    REQUIRE(store_alias_set(other, "prod", "ft:b", NULL, &err) == 0);
    REQUIRE(store_alias_get(s, "prod", &a, &err) == 0);
    CHECK_EQ_STR(a.target, "ft:b");
    store_close(other);
}
TEST(store_aliases_seen_by_another_connection) { with_store(aliases_live_body); }

/* A version 2 database (jobs without base_model, parent_model, name_base; no aliases table) is
 * migrated on open: the columns are added and filled with the job's model, the table made. */
TEST(store_schema_2_migrates_to_3) {
    if (test_on_postgres()) {
        test_skip("SQLite only (ftune.db)");
        return;
    }
    char dir[] = "/tmp/ftune_test_store_XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    char path[PATH_LEN], raw[PATH_LEN];
    snprintf(path, sizeof path, "%s/ftune.db", dir);
    sqlite3 *db;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    const char *v2 =
        "CREATE TABLE jobs (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, created_at INTEGER NOT "
        "NULL, model TEXT NOT NULL, training_file TEXT NOT NULL, validation_file TEXT, suffix TEXT, seed INTEGER NOT "
        "NULL, status TEXT NOT NULL, n_epochs TEXT, batch_size TEXT, lr_multiplier TEXT, metadata TEXT, "
        "fine_tuned_model TEXT, finished_at INTEGER, trained_tokens INTEGER, estimated_finish INTEGER, result_file "
        "TEXT, error_code TEXT, error_param TEXT, error_message TEXT, step INTEGER NOT NULL DEFAULT 0, total_steps "
        "INTEGER NOT NULL DEFAULT 0, model_deleted INTEGER NOT NULL DEFAULT 0);"
        "INSERT INTO jobs (id, created_at, model, training_file, seed, status) VALUES ('ftjob-old', 1, "
        "'SmolLM2-135M-Instruct.Q4_1', 'file-x', 7, 'succeeded');"
        "PRAGMA user_version = 2;";
    REQUIRE(sqlite3_exec(db, v2, NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    Store *s;
    Err err = {0};
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    JobRecord j;
    REQUIRE(store_job_get(s, "ftjob-old", &j, &err) == 0);
    CHECK_EQ_STR(j.base_model, "SmolLM2-135M-Instruct.Q4_1");
    CHECK_EQ_STR(j.name_base, "SmolLM2-135M-Instruct.Q4_1");
    CHECK_EQ_STR(j.parent_model, "");
    CHECK_EQ_STR(j.method, "supervised"); /* schema 5's columns, NULL in the old row */
    CHECK_EQ_STR(j.beta, "");
    CHECK(store_alias_set(s, "a", "SmolLM2-135M-Instruct.Q4_1", NULL, &err) == 0);
    store_close(s);
    raw_sql(dir, "PRAGMA user_version", raw, sizeof raw);
    CHECK_EQ_STR(raw, "9");
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0); /* opening again changes nothing */
    store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Start-up checks: a missing or empty database beside uploaded files or job directories is
 * refused naming them; a new directory is not; PRAGMA quick_check finds a damaged page. */
TEST(store_check_presence_refuses_lost_database) {
    if (test_on_postgres()) {
        test_skip("SQLite only (ftune.db)");
        return;
    }
    char dir[] = "/tmp/ftune_test_store_XXXXXX", path[PATH_LEN], moved[PATH_LEN];
    REQUIRE(mkdtemp(dir) != NULL);
    Store *s;
    Err err = {0};
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    CHECK_EQ_INT(store_check_integrity(s, &err), 0);
    FileRecord f;
    REQUIRE(store_file_create(s, STORE_DEFAULT_PROJECT, "a.jsonl", "fine-tune", "{}\n", 3, &f, &err) == 0);
    store_close(s); /* the WAL is folded into ftune.db and removed */
    CHECK_EQ_INT(store_check_presence(dir, NULL, &err), 0); /* the database is there */
    snprintf(path, sizeof path, "%s/ftune.db", dir);
    snprintf(moved, sizeof moved, "%s/elsewhere.db", dir);
    REQUIRE(rename(path, moved) == 0);
    CHECK_EQ_INT(store_check_presence(dir, NULL, &err), -1);
    CHECK(strstr(err.msg, "missing") && strstr(err.msg, "1 file"));
    FILE *fp = fopen(path, "w"); /* empty */
    REQUIRE(fp != NULL);
    fclose(fp);
    CHECK_EQ_INT(store_check_presence(dir, NULL, &err), -1);
    CHECK(strstr(err.msg, "empty") != NULL);
    REQUIRE(rename(moved, path) == 0);
    char fresh[PATH_LEN];
    snprintf(fresh, sizeof fresh, "%s/new", dir);
    CHECK_EQ_INT(store_check_presence(fresh, NULL, &err), 0);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TEST(store_check_integrity_finds_damage) {
    if (test_on_postgres()) {
        test_skip("SQLite only (ftune.db)");
        return;
    }
    char dir[] = "/tmp/ftune_test_store_XXXXXX", path[PATH_LEN];
    REQUIRE(mkdtemp(dir) != NULL);
    Store *s;
    Err err = {0};
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    for (int i = 0; i < 200; i++) {
        char id[32];
        snprintf(id, sizeof id, "ftjob-%d", i);
        REQUIRE(add_job(s, id, "queued", "{\"k\":\"a long enough value to fill a few pages of the table\"}") == 0);
    }
    store_close(s); /* the last connection checkpoints the WAL into ftune.db */
    snprintf(path, sizeof path, "%s/ftune.db", dir);
    FILE *fp = fopen(path, "r+b");
    REQUIRE(fp != NULL);
    char junk[16];
    memset(junk, 0x5a, sizeof junk);
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    for (long page = 4096; page < size; page += 4096) { /* every b-tree page header but the schema's */
        fseek(fp, page, SEEK_SET);
        fwrite(junk, 1, sizeof junk, fp);
    }
    fclose(fp);
    s = NULL;
    if (store_open(dir, test_database(dir), &s, &err) == 0) {
        CHECK_EQ_INT(store_check_integrity(s, &err), -1);
        CHECK(strstr(err.msg, "corrupt") != NULL);
    } /* else: refused at open, which is as good */
    store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- concurrency ---- */

#define WRITER_EVENTS 200

typedef struct {
    const char *dir;
    const char *job_id;
    int failures;
} Writer;

static void *writer_main(void *arg) {
    Writer *w = arg;
    Store *s;
    Err err;
    if (store_open(w->dir, test_database(w->dir), &s, &err) != 0) {
        w->failures = WRITER_EVENTS;
        return NULL;
    }
    for (int i = 0; i < WRITER_EVENTS; i++) {
        char msg[32];
        snprintf(msg, sizeof msg, "%d", i);
        if (store_event_add(s, w->job_id, "info", "message", msg, NULL, NULL, &err) != 0) w->failures++;
    }
    store_close(s);
    return NULL;
}

static void concurrent_body(Store *s, const char *dir) {
    Err err;
    REQUIRE(add_job(s, "ftjob-w1", "running", "") == 0);
    REQUIRE(add_job(s, "ftjob-w2", "running", "") == 0);
    Writer w[2] = {{dir, "ftjob-w1", 0}, {dir, "ftjob-w2", 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++) REQUIRE(pthread_create(&t[i], NULL, writer_main, &w[i]) == 0);
    for (int i = 0; i < 2; i++) pthread_join(t[i], NULL);
    CHECK_EQ_INT(w[0].failures, 0);
    CHECK_EQ_INT(w[1].failures, 0);
    for (int k = 0; k < 2; k++) {
        EventRecord *items;
        int n;
        bool more;
        REQUIRE(store_event_list(s, w[k].job_id, NULL, STORE_LIST_MAX, &items, &n, &more, &err) == 0);
        CHECK_EQ_INT(n, WRITER_EVENTS);
        int in_order = 1;
        for (int i = 0; i < n; i++) in_order &= atoi(items[i].message) == WRITER_EVENTS - 1 - i;
        CHECK(in_order);
        free(items);
    }
}
TEST(store_two_connections_write_concurrently) { with_store(concurrent_body); }

/* Four threads opening a store on the same new directory at once: one creates the schema, the
 * others wait for it (busy timeout, or store_open's retries where SQLite reports the new file
 * locked without waiting) and find it. */
typedef struct {
    const char *dir;
    int rc;
    FileRecord file;
    char msg[ERR_MSG_MAX];
} Opener;

static void *opener_main(void *arg) {
    Opener *o = arg;
    Store *s;
    Err err;
    o->rc = store_open(o->dir, test_database(o->dir), &s, &err);
    if (o->rc == 0) o->rc = store_file_create(s, STORE_DEFAULT_PROJECT, "f", "fine-tune", "x", 1, &o->file, &err);
    if (o->rc) snprintf(o->msg, sizeof o->msg, "%s", err.msg);
    store_close(s);
    return NULL;
}

static void concurrent_open_body(Store *s, const char *dir) {
    char fresh[PATH_LEN];
    snprintf(fresh, sizeof fresh, "%s/fresh", dir);
    Opener o[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        o[i] = (Opener){.dir = fresh, .rc = -2};
        REQUIRE(pthread_create(&t[i], NULL, opener_main, &o[i]) == 0);
    }
    for (int i = 0; i < 4; i++) pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++) {
        if (o[i].rc) printf("    opener %d: %s\n", i, o[i].msg);
        CHECK_EQ_INT(o[i].rc, 0);
    }
    Store *s2;
    Err err;
    REQUIRE(store_open(fresh, test_database(fresh), &s2, &err) == 0);
    FileRecord *items;
    int n;
    bool more;
    REQUIRE(store_file_list(s2, NULL, NULL, NULL, 10, true, &items, &n, &more, &err) == 0);
    CHECK_EQ_INT(n, 4);
    free(items);
    store_close(s2);
    (void)s;
}
TEST(store_open_concurrently_on_new_dir) { with_store(concurrent_open_body); }

/* ---- ids ---- */

static int is_alnum_only(const char *s) {
    for (; *s; s++)
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9'))) return 0;
    return 1;
}

TEST(store_ids_prefix_length_and_unique) {
    enum { N = 200 };
    static char ids[N][STORE_ID_MAX];
    for (int i = 0; i < N; i++) {
        store_new_id("ftjob-", ids[i], sizeof ids[i]);
        CHECK_EQ_INT(strlen(ids[i]), 6 + 24);
        CHECK(strncmp(ids[i], "ftjob-", 6) == 0);
        CHECK(is_alnum_only(ids[i] + 6));
    }
    int dups = 0;
    for (int i = 0; i < N; i++)
        for (int k = i + 1; k < N; k++) dups += strcmp(ids[i], ids[k]) == 0;
    CHECK_EQ_INT(dups, 0);
    /* every character class turns up in 200 * 24 characters */
    int upper = 0, lower = 0, digit = 0;
    for (int i = 0; i < N; i++)
        for (const char *p = ids[i] + 6; *p; p++) {
            upper += *p >= 'A' && *p <= 'Z';
            lower += *p >= 'a' && *p <= 'z';
            digit += *p >= '0' && *p <= '9';
        }
    CHECK(upper > 0 && lower > 0 && digit > 0);
    char small[12];
    store_new_id("file-", small, sizeof small); /* cut to fit */
    CHECK_EQ_INT(strlen(small), 11);
    CHECK(strncmp(small, "file-", 5) == 0);
    char r[9];
    store_random_alnum(r, 8);
    CHECK_EQ_INT(strlen(r), 8);
    CHECK(is_alnum_only(r));
}
