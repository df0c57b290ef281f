/* test_store_responses.c: stored responses (store_responses.c): a response round-trips with its
 * body and input whatever their size, is found by id only until deleted, needs a project, and a
 * schema version 4 database gets the table (version 5) with its other rows untouched. */
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "test.h"
#include "test_database.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static void db_exec(const char *dir, const char *sql, char *out, size_t size) {
    char path[512];
    snprintf(path, sizeof path, "%s/ftune.db", dir);
    sqlite3 *db;
    sqlite3_stmt *st;
    if (out) out[0] = 0;
    if (sqlite3_open(path, &db) != SQLITE_OK || sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK) {
        test_fail(__FILE__, __LINE__, "%s: %s", sql, sqlite3_errmsg(db));
        sqlite3_close(db);
        return;
    }
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW && out) snprintf(out, size, "%s", (const char *)sqlite3_column_text(st, 0));
    else if (rc != SQLITE_ROW && rc != SQLITE_DONE) test_fail(__FILE__, __LINE__, "%s: %s", sql, sqlite3_errmsg(db));
    sqlite3_finalize(st);
    sqlite3_close(db);
}

static ResponseRecord make_response(const char *id, const char *project, char *body, char *input) {
    ResponseRecord r = {.created_at = 1700000000};
    snprintf(r.id, sizeof r.id, "%s", id);
    snprintf(r.project, sizeof r.project, "%s", project);
    snprintf(r.model, sizeof r.model, "SmolLM2-135M-Instruct.Q4_1");
    snprintf(r.status, sizeof r.status, "completed");
    r.body = body;
    r.input = input;
    return r;
}

TEST(store_response_roundtrip) {
    char dir[] = "/tmp/ftune_test_responses_XXXXXX";
    REQUIRE(mkdtemp(dir));
    Store *s = NULL;
    Err err = {0};
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    /* a body far larger than the fixed-size record fields (STORE_JSON_MAX) */
    size_t big = 3 * STORE_JSON_MAX;
    char *body = malloc(big + 1);
    REQUIRE(body);
    memset(body, 'x', big);
    body[0] = '{', body[big - 1] = '}', body[big] = 0;
    ResponseRecord r = make_response("resp_a", "proj_a", body, "[{\"type\":\"message\"}]");
    snprintf(r.previous_response_id, sizeof r.previous_response_id, "resp_prev");
    REQUIRE(store_response_create(s, &r, &err) == 0);
    ResponseRecord g;
    REQUIRE(store_response_get(s, "resp_a", &g, &err) == 0);
    CHECK(strcmp(g.id, "resp_a") == 0 && strcmp(g.project, "proj_a") == 0);
    CHECK(strcmp(g.model, "SmolLM2-135M-Instruct.Q4_1") == 0 && strcmp(g.status, "completed") == 0);
    CHECK(strcmp(g.previous_response_id, "resp_prev") == 0);
    CHECK_EQ_INT(g.created_at, 1700000000);
    CHECK(g.body && strlen(g.body) == big && strcmp(g.body, body) == 0);
    CHECK(g.input && strcmp(g.input, "[{\"type\":\"message\"}]") == 0);
    store_response_clear(&g);
    CHECK(g.body == NULL && g.input == NULL);
    store_response_clear(NULL);
    /* no previous response: "" back */
    ResponseRecord r2 = make_response("resp_b", "proj_b", "{}", "[]");
    REQUIRE(store_response_create(s, &r2, &err) == 0);
    REQUIRE(store_response_get(s, "resp_b", &g, &err) == 0);
    CHECK(strcmp(g.previous_response_id, "") == 0 && strcmp(g.project, "proj_b") == 0);
    store_response_clear(&g);
    /* the id is unique */
    CHECK(store_response_create(s, &r2, &err) == -1);
    /* unknown ids; delete once */
    CHECK_EQ_INT(store_response_get(s, "resp_none", &g, &err), STORE_NOT_FOUND);
    CHECK_EQ_INT(store_response_delete(s, "resp_none", &err), STORE_NOT_FOUND);
    CHECK_EQ_INT(store_response_delete(s, "resp_a", &err), 0);
    CHECK_EQ_INT(store_response_get(s, "resp_a", &g, &err), STORE_NOT_FOUND);
    CHECK_EQ_INT(store_response_delete(s, "resp_a", &err), STORE_NOT_FOUND);
    CHECK_EQ_INT(store_response_get(s, "resp_b", &g, &err), 0);
    store_response_clear(&g);
    /* a response needs a project, an id, a body and input */
    ResponseRecord bad = make_response("resp_c", "", "{}", "[]");
    CHECK(store_response_create(s, &bad, &err) == -1 && err.code == ERR_ARG);
    bad = make_response("resp_c", "proj_a", NULL, "[]");
    CHECK(store_response_create(s, &bad, &err) == -1 && err.code == ERR_ARG);
    free(body);
    store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Version 4 had no responses table: opening adds it and sets version 5; files stay. */
TEST(store_response_migrate_from_4) {
    char dir[] = "/tmp/ftune_test_responses_XXXXXX";
    REQUIRE(mkdtemp(dir));
    Store *s = NULL;
    Err err = {0};
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    FileRecord f;
    REQUIRE(store_file_create(s, STORE_DEFAULT_PROJECT, "a.jsonl", "fine-tune", "{}\n", 3, &f, &err) == 0);
    store_close(s);
    if (test_on_postgres()) { /* no PostgreSQL database had version 4; a newer one is refused */
        test_pg_sql(dir, "UPDATE schema_version SET version = 10", NULL, 0);
        CHECK(store_open(dir, test_database(dir), &s, &err) == -1 && strstr(err.msg, "newer"));
        store_close(s);
        nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        return;
    }
    db_exec(dir, "DROP TABLE responses", NULL, 0);
    db_exec(dir, "PRAGMA user_version = 4", NULL, 0);
    char got[64];
    db_exec(dir, "SELECT count(*) FROM sqlite_master WHERE name = 'responses'", got, sizeof got);
    REQUIRE(strcmp(got, "0") == 0);
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    db_exec(dir, "PRAGMA user_version", got, sizeof got);
    CHECK(strcmp(got, "9") == 0);
    db_exec(dir, "SELECT count(*) FROM sqlite_master WHERE name = 'responses'", got, sizeof got);
    CHECK(strcmp(got, "1") == 0);
    ResponseRecord r = make_response("resp_m", STORE_DEFAULT_PROJECT, "{}", "[]");
    CHECK(store_response_create(s, &r, &err) == 0);
    FileRecord g;
    CHECK(store_file_get(s, f.id, &g, &err) == 0);
    store_close(s);
    /* a database of a newer version is refused */
    db_exec(dir, "PRAGMA user_version = 10", NULL, 0);
    CHECK(store_open(dir, test_database(dir), &s, &err) == -1 && strstr(err.msg, "newer"));
    store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}
