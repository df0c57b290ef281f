/* test_store_evals.c: the Evals API's records (store_evals.c): an eval, its runs and their items
 * round-trip with their bodies; lists page by cursor in both orders and filter by project, parent
 * and status, items in their index order; an item index is unique within its run; updates replace
 * status and body; deleting an eval removes its runs and their items, and nothing of another eval;
 * a schema version 5 database gets the tables (version 6). */
#include <ftw.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "store/store.h"
#include "test.h"
#include "test_database.h"

static int rm_tree_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

static EvalObject obj(const char *id, const char *project, const char *parent, const char *status, long long index,
                      char *body) {
    EvalObject o = {.created_at = 1700000000, .item_index = index, .body = body};
    snprintf(o.id, sizeof o.id, "%s", id);
    snprintf(o.project, sizeof o.project, "%s", project);
    snprintf(o.parent, sizeof o.parent, "%s", parent);
    snprintf(o.status, sizeof o.status, "%s", status);
    return o;
}

static int count(Store *s, EvalKind kind, const EvalListQuery *q) {
    EvalObject *list;
    int n;
    bool more;
    Err err = {0};
    if (store_eval_list(s, kind, q, &list, &n, &more, &err)) return -1;
    store_eval_list_free(list, n);
    return n;
}

TEST(store_evals_roundtrip_list_and_delete) {
    char dir[] = "/tmp/ftune_test_evals_XXXXXX";
    REQUIRE(mkdtemp(dir));
    Store *s;
    Err err = {0};
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    EvalObject e1 = obj("eval_1", "p1", "", "", -1, "{\"id\":\"eval_1\"}"), e2 = obj("eval_2", "p1", "", "", -1, "{}"),
               e3 = obj("eval_3", "p2", "", "", -1, "{}");
    CHECK(store_eval_put(s, EVAL_OBJ_EVAL, &e1, &err) == 0);
    CHECK(store_eval_put(s, EVAL_OBJ_EVAL, &e2, &err) == 0);
    CHECK(store_eval_put(s, EVAL_OBJ_EVAL, &e3, &err) == 0);
    EvalObject r1 = obj("evalrun_1", "p1", "eval_1", "queued", -1, "{}"),
               r2 = obj("evalrun_2", "p1", "eval_2", "completed", -1, "{}");
    CHECK(store_eval_put(s, EVAL_OBJ_RUN, &r1, &err) == 0);
    CHECK(store_eval_put(s, EVAL_OBJ_RUN, &r2, &err) == 0);
    /* items written out of order are listed by index */
    const long long order[] = {2, 0, 1};
    for (int i = 0; i < 3; i++) {
        char id[32];
        snprintf(id, sizeof id, "outputitem_%lld", order[i]);
        EvalObject it = obj(id, "p1", "evalrun_1", order[i] == 1 ? "fail" : "pass", order[i], "{\"x\":1}");
        CHECK(store_eval_put(s, EVAL_OBJ_ITEM, &it, &err) == 0);
    }
    EvalObject dup = obj("outputitem_dup", "p1", "evalrun_1", "pass", 1, "{}");
    CHECK(store_eval_put(s, EVAL_OBJ_ITEM, &dup, &err) != 0); /* index 1 of that run is taken */
    EvalObject other = obj("outputitem_r2", "p1", "evalrun_2", "pass", 0, "{}");
    CHECK(store_eval_put(s, EVAL_OBJ_ITEM, &other, &err) == 0);

    EvalObject got;
    REQUIRE(store_eval_get(s, EVAL_OBJ_EVAL, "eval_1", &got, &err) == 0);
    CHECK(strcmp(got.body, "{\"id\":\"eval_1\"}") == 0 && strcmp(got.project, "p1") == 0 && got.item_index == -1);
    store_eval_clear(&got);
    CHECK(store_eval_get(s, EVAL_OBJ_RUN, "eval_1", &got, &err) == STORE_NOT_FOUND); /* kinds are apart */

    EvalListQuery q = {.project = "p1", .limit = 10, .ascending = true};
    CHECK_EQ_INT(count(s, EVAL_OBJ_EVAL, &q), 2);
    EvalObject *list;
    int n;
    bool more;
    q.limit = 1;
    REQUIRE(store_eval_list(s, EVAL_OBJ_EVAL, &q, &list, &n, &more, &err) == 0);
    CHECK(n == 1 && more && strcmp(list[0].id, "eval_1") == 0);
    store_eval_list_free(list, n);
    q.after = "eval_1";
    REQUIRE(store_eval_list(s, EVAL_OBJ_EVAL, &q, &list, &n, &more, &err) == 0);
    CHECK(n == 1 && !more && strcmp(list[0].id, "eval_2") == 0);
    store_eval_list_free(list, n);
    q.after = "eval_3"; /* another project's: an unknown cursor */
    CHECK(store_eval_list(s, EVAL_OBJ_EVAL, &q, &list, &n, &more, &err) == STORE_NOT_FOUND);

    EvalListQuery items = {.project = "p1", .parent = "evalrun_1", .limit = 10, .ascending = true};
    REQUIRE(store_eval_list(s, EVAL_OBJ_ITEM, &items, &list, &n, &more, &err) == 0);
    REQUIRE(n == 3);
    for (int i = 0; i < 3; i++) CHECK_EQ_INT(list[i].item_index, i);
    store_eval_list_free(list, n);
    items.status = "fail";
    CHECK_EQ_INT(count(s, EVAL_OBJ_ITEM, &items), 1);
    items.status = NULL;
    items.ascending = false;
    REQUIRE(store_eval_list(s, EVAL_OBJ_ITEM, &items, &list, &n, &more, &err) == 0);
    CHECK(n == 3 && list[0].item_index == 2);
    store_eval_list_free(list, n);

    CHECK(store_eval_update(s, EVAL_OBJ_RUN, "evalrun_1", "completed", "{\"status\":\"completed\"}", &err) == 0);
    REQUIRE(store_eval_get(s, EVAL_OBJ_RUN, "evalrun_1", &got, &err) == 0);
    CHECK(strcmp(got.status, "completed") == 0 && strcmp(got.body, "{\"status\":\"completed\"}") == 0);
    store_eval_clear(&got);
    CHECK(store_eval_update(s, EVAL_OBJ_RUN, "evalrun_9", "x", "{}", &err) == STORE_NOT_FOUND);

    /* deleting eval_1 takes its run and the run's items, and leaves eval_2's */
    CHECK(store_eval_delete(s, EVAL_OBJ_EVAL, "eval_1", &err) == 0);
    CHECK(store_eval_get(s, EVAL_OBJ_RUN, "evalrun_1", &got, &err) == STORE_NOT_FOUND);
    CHECK(store_eval_get(s, EVAL_OBJ_ITEM, "outputitem_0", &got, &err) == STORE_NOT_FOUND);
    CHECK(store_eval_get(s, EVAL_OBJ_ITEM, "outputitem_r2", &got, &err) == 0);
    store_eval_clear(&got);
    CHECK(store_eval_delete(s, EVAL_OBJ_EVAL, "eval_1", &err) == STORE_NOT_FOUND);
    CHECK(store_eval_delete(s, EVAL_OBJ_RUN, "evalrun_2", &err) == 0);
    CHECK(store_eval_get(s, EVAL_OBJ_ITEM, "outputitem_r2", &got, &err) == STORE_NOT_FOUND);
    store_close(s);

    /* a version 5 database gets the tables (SQLite: no PostgreSQL database had version 5) */
    if (test_on_postgres()) {
        nftw(dir, rm_tree_entry, 16, FTW_DEPTH | FTW_PHYS);
        return;
    }
    char path[512];
    snprintf(path, sizeof path, "%s/ftune.db", dir);
    sqlite3 *db;
    REQUIRE(sqlite3_open(path, &db) == SQLITE_OK);
    CHECK(sqlite3_exec(db, "DROP TABLE evals; DROP TABLE eval_runs; DROP TABLE eval_items; PRAGMA user_version = 5",
                       NULL, NULL, NULL) == SQLITE_OK);
    sqlite3_close(db);
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    CHECK(store_eval_put(s, EVAL_OBJ_EVAL, &e1, &err) == 0);
    store_close(s);
    nftw(dir, rm_tree_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* Items are stored as their rows finish (out of index order) and listed by index: a page that
 * starts after an item continues in index order, whatever order they were stored in. */
TEST(store_evals_items_page_in_index_order) {
    char dir[] = "/tmp/ftune_test_evals_XXXXXX";
    REQUIRE(mkdtemp(dir));
    Store *s;
    Err err = {0};
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    EvalObject r = obj("evalrun_p", "p1", "eval_p", "in_progress", -1, "{}");
    CHECK(store_eval_put(s, EVAL_OBJ_RUN, &r, &err) == 0);
    enum { N = 12 };
    const long long stored[N] = {3, 0, 7, 1, 11, 2, 9, 4, 10, 5, 8, 6}; /* the order rows finished in */
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof id, "item_%lld", stored[i]);
        EvalObject it = obj(id, "p1", "evalrun_p", "pass", stored[i], "{}");
        CHECK(store_eval_put(s, EVAL_OBJ_ITEM, &it, &err) == 0);
    }
    for (int asc = 0; asc < 2; asc++) {
        char after[STORE_ID_MAX] = "";
        long long seen[N];
        int n_seen = 0;
        for (int page = 0; page < N; page++) {
            EvalListQuery q = {.project = "p1", .parent = "evalrun_p", .after = after[0] ? after : NULL, .limit = 5,
                               .ascending = asc};
            EvalObject *list;
            int n;
            bool more;
            REQUIRE(store_eval_list(s, EVAL_OBJ_ITEM, &q, &list, &n, &more, &err) == 0);
            for (int i = 0; i < n && n_seen < N; i++) seen[n_seen++] = list[i].item_index;
            if (n) snprintf(after, sizeof after, "%s", list[n - 1].id);
            store_eval_list_free(list, n);
            if (!more) break;
        }
        CHECK_EQ_INT(n_seen, N);
        for (int i = 0; i < n_seen; i++) CHECK_EQ_INT(seen[i], asc ? i : N - 1 - i);
    }
    store_close(s);
    nftw(dir, rm_tree_entry, 16, FTW_DEPTH | FTW_PHYS);
}
