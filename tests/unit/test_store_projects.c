/* test_store_projects.c: projects and API keys in the store, and what belongs to a project: the
 * SHA-256 digest against its published vectors and the constant-time comparison; keys found by
 * their exact bytes only (a NUL and more, or a prefix, is another key), revoked at once, never
 * stored in the clear; the default project and named ones; files and jobs listed by project (with
 * another project's id as an unknown cursor); a fine-tuned model's project through its job; and a
 * schema version 2 database migrated with its rows in the default project. */
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/digest.h"
#include "store/store.h"
#include "test.h"
#include "test_database.h"
#include "worker/registry.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* Runs body with a store opened on a fresh temporary data directory, then removes it all. */
static void with_store(void (*body)(Store *s, const char *dir)) {
    char dir[] = "/tmp/ftune_test_projects_XXXXXX";
    if (!mkdtemp(dir)) {
        test_fail(__FILE__, __LINE__, "mkdtemp failed");
        return;
    }
    Store *s = NULL;
    Err err = {0};
    if (store_open(dir, test_database(dir), &s, &err) == 0) body(s, dir);
    else test_fail(__FILE__, __LINE__, "store_open: %s", err.msg);
    store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Runs sql (several statements) on dir's database through a connection of its own. */
static void exec_sql(const char *dir, const char *sql) {
    char path[512];
    snprintf(path, sizeof path, "%s/ftune.db", dir);
    sqlite3 *db;
    char *msg = NULL;
    if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_exec(db, sql, NULL, NULL, &msg) != SQLITE_OK)
        test_fail(__FILE__, __LINE__, "%s: %s", sql, msg ? msg : sqlite3_errmsg(db));
    sqlite3_free(msg);
    sqlite3_close(db);
}

/* The first column of the first row of sql, as text ("" when none). */
static void query_text(const char *dir, const char *sql, char *out, size_t size) {
    if (test_on_postgres()) {
        test_pg_sql(dir, sql, out, size);
        return;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/ftune.db", dir);
    sqlite3 *db;
    sqlite3_stmt *st;
    out[0] = 0;
    if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        test_fail(__FILE__, __LINE__, "%s: %s", sql, sqlite3_errmsg(db));
        sqlite3_close(db);
        return;
    }
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0))
        snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

TEST(digest_sha256_vectors) {
    char hex[DIGEST_SHA256_HEX];
    digest_sha256_hex("", 0, hex); /* FIPS 180-2 examples */
    CHECK(strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855") == 0);
    digest_sha256_hex("abc", 3, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") == 0);
    /* every byte counts: "abc\0" is not "abc" */
    digest_sha256_hex("abc\0", 4, hex);
    CHECK(strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") != 0);
    CHECK(digest_equal("abcd", "abcd", 4));
    CHECK(!digest_equal("abcd", "abce", 4));
    CHECK(!digest_equal("\0bcd", "abcd", 4));
}

static void keys_body(Store *s, const char *dir) {
    Err err = {0};
    bool any = true;
    REQUIRE(store_key_any(s, &any, &err) == 0);
    CHECK(!any);
    ProjectRecord a;
    REQUIRE(store_project_create(s, "team-a", &a, &err) == 0);
    KeyRecord k, found;
    char secret[STORE_KEY_SECRET_MAX];
    REQUIRE(store_key_create(s, a.id, "ci", &k, secret, &err) == 0);
    CHECK(strncmp(secret, "sk-proj-", 8) == 0 && strlen(secret) == 8 + STORE_KEY_RANDOM_LEN);
    CHECK(strncmp(k.id, "key_", 4) == 0 && !k.admin && strcmp(k.project, a.id) == 0 && strcmp(k.name, "ci") == 0);
    CHECK(strncmp(k.redacted, "sk-proj-...", 11) == 0 && strcmp(k.redacted + 11, secret + strlen(secret) - 4) == 0);
    REQUIRE(store_key_any(s, &any, &err) == 0);
    CHECK(any);
    /* found by its exact bytes only */
    REQUIRE(store_key_find(s, secret, strlen(secret), &found, &err) == 0);
    CHECK(strcmp(found.id, k.id) == 0 && strcmp(found.project, a.id) == 0);
    char longer[STORE_KEY_SECRET_MAX + 8];
    size_t n = strlen(secret);
    memcpy(longer, secret, n);
    memcpy(longer + n, "\0junk", 5);
    CHECK_EQ_INT(store_key_find(s, longer, n + 5, &found, &err), STORE_NOT_FOUND);
    CHECK_EQ_INT(store_key_find(s, secret, n - 1, &found, &err), STORE_NOT_FOUND);
    CHECK_EQ_INT(store_key_find(s, "", 0, &found, &err), STORE_NOT_FOUND);
    /* the database holds the digest, never the secret */
    char sql[256], got[256];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM api_keys WHERE id || name || redacted || hash LIKE '%%%s%%'",
             secret + 8);
    query_text(dir, sql, got, sizeof got);
    CHECK(strcmp(got, "0") == 0);
    char hex[DIGEST_SHA256_HEX];
    digest_sha256_hex(secret, n, hex);
    query_text(dir, "SELECT hash FROM api_keys", got, sizeof got);
    CHECK(strcmp(got, hex) == 0);
    /* an admin key has no project */
    KeyRecord adm;
    char admin_secret[STORE_KEY_SECRET_MAX];
    REQUIRE(store_key_create(s, NULL, NULL, &adm, admin_secret, &err) == 0);
    CHECK(strncmp(admin_secret, "sk-admin-", 9) == 0 && adm.admin && !adm.project[0] && !adm.name[0]);
    REQUIRE(store_key_find(s, admin_secret, strlen(admin_secret), &found, &err) == 0);
    CHECK(found.admin && !found.project[0]);
    /* a key of a project that does not exist is refused */
    CHECK_EQ_INT(store_key_create(s, "proj_nope", NULL, &found, got, &err), STORE_NOT_FOUND);
    CHECK(got[0] == 0);
    /* lists: a project's keys, or all */
    KeyRecord *list;
    int count;
    bool more;
    REQUIRE(store_key_list(s, a.id, NULL, 10, &list, &count, &more, &err) == 0);
    CHECK(count == 1 && strcmp(list[0].id, k.id) == 0 && !more);
    free(list);
    REQUIRE(store_key_list(s, NULL, NULL, 1, &list, &count, &more, &err) == 0);
    CHECK(count == 1 && strcmp(list[0].id, k.id) == 0 && more);
    free(list);
    REQUIRE(store_key_list(s, NULL, k.id, 10, &list, &count, &more, &err) == 0);
    CHECK(count == 1 && strcmp(list[0].id, adm.id) == 0 && !more);
    free(list);
    /* revoked: never found again, still listed, still counted by store_key_any */
    REQUIRE(store_key_revoke(s, k.id, &err) == 0);
    CHECK_EQ_INT(store_key_find(s, secret, n, &found, &err), STORE_NOT_FOUND);
    CHECK_EQ_INT(store_key_revoke(s, k.id, &err), STORE_CONFLICT);
    CHECK_EQ_INT(store_key_revoke(s, "key_unknown", &err), STORE_NOT_FOUND);
    REQUIRE(store_key_get(s, k.id, &found, &err) == 0);
    CHECK(found.revoked_at > 0);
    REQUIRE(store_key_revoke(s, adm.id, &err) == 0);
    REQUIRE(store_key_any(s, &any, &err) == 0);
    CHECK(any);
}
TEST(store_keys_hashed_found_exactly_revoked) { with_store(keys_body); }

static void projects_body(Store *s, const char *dir) {
    (void)dir;
    Err err = {0};
    ProjectRecord p, q;
    REQUIRE(store_project_get(s, STORE_DEFAULT_PROJECT, &p, &err) == 0);
    CHECK(strcmp(p.name, STORE_DEFAULT_PROJECT_NAME) == 0);
    REQUIRE(store_project_get(s, STORE_DEFAULT_PROJECT_NAME, &q, &err) == 0);
    CHECK(strcmp(q.id, STORE_DEFAULT_PROJECT) == 0);
    REQUIRE(store_project_create(s, "team-b", &p, &err) == 0);
    CHECK(strncmp(p.id, "proj_", 5) == 0 && strcmp(p.name, "team-b") == 0);
    CHECK_EQ_INT(store_project_create(s, "team-b", &q, &err), STORE_CONFLICT);
    CHECK_EQ_INT(store_project_create(s, "", &q, &err), -1);
    REQUIRE(store_project_get(s, p.id, &q, &err) == 0);
    CHECK(strcmp(q.name, "team-b") == 0);
    CHECK_EQ_INT(store_project_get(s, "team-z", &q, &err), STORE_NOT_FOUND);
    ProjectRecord *list;
    int n;
    bool more;
    REQUIRE(store_project_list(s, NULL, 10, &list, &n, &more, &err) == 0);
    CHECK(n == 2 && strcmp(list[0].id, STORE_DEFAULT_PROJECT) == 0 && strcmp(list[1].id, p.id) == 0);
    free(list);
}
TEST(store_projects_default_and_named) { with_store(projects_body); }

static void add_job(Store *s, const char *id, const char *project, const char *model) {
    JobRecord *j = calloc(1, sizeof *j);
    REQUIRE(j != NULL);
    snprintf(j->id, sizeof j->id, "%s", id);
    snprintf(j->project, sizeof j->project, "%s", project);
    j->created_at = 1700000000;
    snprintf(j->model, sizeof j->model, "tiny-qwen2");
    snprintf(j->training_file, sizeof j->training_file, "file-x");
    snprintf(j->status, sizeof j->status, "%s", model ? "succeeded" : "queued");
    if (model) snprintf(j->fine_tuned_model, sizeof j->fine_tuned_model, "%s", model);
    j->trained_tokens = -1;
    Err err = {0};
    CHECK_EQ_INT(store_job_create(s, j, &err), 0);
    free(j);
}

static void ownership_body(Store *s, const char *dir) {
    (void)dir;
    Err err = {0};
    FileRecord fa, fb, got;
    REQUIRE(store_file_create(s, "proj_a", "a.jsonl", "fine-tune", "{}\n", 3, &fa, &err) == 0);
    REQUIRE(store_file_create(s, "proj_b", "b.jsonl", "fine-tune", "{}\n", 3, &fb, &err) == 0);
    CHECK_EQ_INT(store_file_create(s, "", "c.jsonl", "fine-tune", "{}\n", 3, &got, &err), -1);
    REQUIRE(store_file_get(s, fa.id, &got, &err) == 0);
    CHECK(strcmp(got.project, "proj_a") == 0);
    FileRecord *files;
    int n;
    bool more;
    REQUIRE(store_file_list(s, "proj_b", NULL, NULL, 10, false, &files, &n, &more, &err) == 0);
    CHECK(n == 1 && strcmp(files[0].id, fb.id) == 0);
    free(files);
    REQUIRE(store_file_list(s, NULL, NULL, NULL, 10, false, &files, &n, &more, &err) == 0);
    CHECK_EQ_INT(n, 2);
    free(files);
    /* another project's file is an unknown cursor */
    CHECK_EQ_INT(store_file_list(s, "proj_b", NULL, fa.id, 10, false, &files, &n, &more, &err), STORE_NOT_FOUND);

    add_job(s, "ftjob-a", "proj_a", "ft:tiny-qwen2:ftune::a");
    add_job(s, "ftjob-b", "proj_b", NULL);
    JobRecord *j = malloc(sizeof *j);
    REQUIRE(j != NULL);
    REQUIRE(store_job_get(s, "ftjob-a", j, &err) == 0);
    CHECK(strcmp(j->project, "proj_a") == 0);
    /* a whole-row update keeps the project */
    snprintf(j->project, sizeof j->project, "proj_b");
    REQUIRE(store_job_update(s, j, &err) == 0);
    REQUIRE(store_job_get(s, "ftjob-a", j, &err) == 0);
    CHECK(strcmp(j->project, "proj_a") == 0);
    free(j);
    JobRecord *jobs;
    REQUIRE(store_job_list(s, "proj_a", NULL, 10, NULL, NULL, 0, false, &jobs, &n, &more, &err) == 0);
    CHECK(n == 1 && strcmp(jobs[0].id, "ftjob-a") == 0);
    free(jobs);
    REQUIRE(store_job_list(s, NULL, NULL, 10, NULL, NULL, 0, false, &jobs, &n, &more, &err) == 0);
    CHECK_EQ_INT(n, 2);
    free(jobs);
    CHECK_EQ_INT(store_job_list(s, "proj_a", "ftjob-b", 10, NULL, NULL, 0, false, &jobs, &n, &more, &err),
                 STORE_NOT_FOUND);
    /* a metadata filter still binds after the project */
    REQUIRE(store_job_list(s, "proj_a", NULL, 10, (const char *[]){"k"}, (const char *[]){"v"}, 1, false, &jobs, &n,
                           &more, &err) == 0);
    CHECK_EQ_INT(n, 0);
    free(jobs);
    /* counts by status, per project (the queue bound) or of all */
    add_job(s, "ftjob-b2", "proj_b", NULL);
    static const char *const st[] = {"queued", "succeeded"};
    long long counts[2];
    REQUIRE(store_job_count_by_status(s, "proj_b", st, 2, counts, &err) == 0);
    CHECK(counts[0] == 2 && counts[1] == 0);
    REQUIRE(store_job_count_by_status(s, "proj_a", st, 2, counts, &err) == 0);
    CHECK(counts[0] == 0 && counts[1] == 1);
    REQUIRE(store_job_count_by_status(s, NULL, st, 2, counts, &err) == 0);
    CHECK(counts[0] == 2 && counts[1] == 1);
    /* a fine-tuned model carries its job's project (the base model must exist: none here) */
    ModelInfo m;
    CHECK_EQ_INT(registry_resolve(s, NULL, 0, "ft:tiny-qwen2:ftune::a", &m, &err), STORE_NOT_FOUND);
}
TEST(store_files_and_jobs_belong_to_projects) { with_store(ownership_body); }

/* A database of schema version 2 (no projects) gets the tables, and its files and jobs are the
 * default project's. */
static void migrate_body(Store *s, const char *dir) {
    Err err = {0};
    FileRecord f;
    REQUIRE(store_file_create(s, STORE_DEFAULT_PROJECT, "old.jsonl", "fine-tune", "{}\n", 3, &f, &err) == 0);
    add_job(s, "ftjob-old", STORE_DEFAULT_PROJECT, NULL);
    /* back to what version 2 had */
    exec_sql(dir, "DROP INDEX files_project; ALTER TABLE files DROP COLUMN project;"
                  "DROP INDEX jobs_project; ALTER TABLE jobs DROP COLUMN project;"
                  "DROP TABLE api_keys; DROP TABLE projects; PRAGMA user_version = 2;");
    char got[64];
    query_text(dir, "SELECT count(*) FROM pragma_table_info('files') WHERE name = 'project'", got, sizeof got);
    REQUIRE(strcmp(got, "0") == 0);
    Store *s2;
    REQUIRE(store_open(dir, test_database(dir), &s2, &err) == 0);
    query_text(dir, "PRAGMA user_version", got, sizeof got);
    CHECK(strcmp(got, "9") == 0);
    FileRecord g;
    REQUIRE(store_file_get(s2, f.id, &g, &err) == 0);
    CHECK(strcmp(g.project, STORE_DEFAULT_PROJECT) == 0);
    JobRecord *j = malloc(sizeof *j);
    REQUIRE(j != NULL);
    REQUIRE(store_job_get(s2, "ftjob-old", j, &err) == 0);
    CHECK(strcmp(j->project, STORE_DEFAULT_PROJECT) == 0);
    free(j);
    ProjectRecord p;
    CHECK_EQ_INT(store_project_get(s2, STORE_DEFAULT_PROJECT_NAME, &p, &err), 0);
    bool any = true;
    REQUIRE(store_key_any(s2, &any, &err) == 0);
    CHECK(!any);
    store_close(s2);
    /* opening again changes nothing */
    REQUIRE(store_open(dir, test_database(dir), &s2, &err) == 0);
    store_close(s2);
}
TEST(store_migrates_version_2_to_projects) {
    if (test_on_postgres()) {
        test_skip("SQLite only (no PostgreSQL database had version 2)");
        return;
    }
    with_store(migrate_body);
}
