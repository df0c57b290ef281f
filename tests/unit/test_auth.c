/* test_auth.c: who a request is (src/serve/auth.c) against a real store: a server without keys
 * lets anyone act in the default project; --api-key keys act in it with admin rights; a project
 * key in its project, an admin key in none; a key is its exact bytes (a NUL and more, a prefix, a
 * missing "Bearer " are other keys); a revoked key is refused from the next call on, and revoking
 * the last key does not open the server again. Also the per-key-id rate limiter. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "serve/auth.h"
#include "serve/limits.h"
#include "test.h"
#include "test_database.h"

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
    (void)sb, (void)flag, (void)ftw;
    return remove(path);
}

/* auth_identify on "Bearer " + the len bytes of key. */
static int identify(Store *s, const char *const *serve, int n_serve, const char *key, size_t len, Principal *who) {
    char header[256];
    if (len + 8 > sizeof header) {
        test_fail(__FILE__, __LINE__, "a key of %zu bytes is longer than this test's buffer", len);
        return -1;
    }
    memcpy(header, "Bearer ", 7);
    memcpy(header + 7, key, len);
    Err err = {0};
    int rc = auth_identify(s, serve, n_serve, header, 7 + len, who, &err);
    if (rc < 0) test_fail(__FILE__, __LINE__, "auth_identify: %s", err.msg);
    return rc;
}

TEST(auth_identify_keys_and_projects) {
    char dir[] = "/tmp/ftune_test_auth_XXXXXX";
    REQUIRE(mkdtemp(dir) != NULL);
    Store *s;
    Err err = {0};
    REQUIRE(store_open(dir, test_database(dir), &s, &err) == 0);
    Principal who;
    /* no keys anywhere: anyone, in the default project */
    CHECK_EQ_INT(auth_identify(s, NULL, 0, NULL, 0, &who, &err), 0);
    CHECK(strcmp(who.project, STORE_DEFAULT_PROJECT) == 0 && who.admin && !who.key_id[0]);
    CHECK_EQ_INT(identify(s, NULL, 0, "whatever", 8, &who), 0);
    /* --api-key keys: the default project, admin rights, by their exact bytes */
    const char *serve[] = {"K1", "K2"};
    CHECK_EQ_INT(identify(s, serve, 2, "K2", 2, &who), 0);
    CHECK(strcmp(who.key_id, "serve-key-2") == 0 && strcmp(who.project, STORE_DEFAULT_PROJECT) == 0 && who.admin);
    CHECK_EQ_INT(identify(s, serve, 2, "K1\0junk", 7, &who), AUTH_DENIED);
    CHECK_EQ_INT(identify(s, serve, 2, "K", 1, &who), AUTH_DENIED);
    CHECK_EQ_INT(auth_identify(s, serve, 2, "K1", 2, &who, &err), AUTH_DENIED); /* no "Bearer " */
    CHECK_EQ_INT(auth_identify(s, serve, 2, NULL, 0, &who, &err), AUTH_DENIED);
    /* store keys: a project key acts in its project; an admin key in none */
    ProjectRecord p;
    REQUIRE(store_project_create(s, "team", &p, &err) == 0);
    KeyRecord k, adm;
    char secret[STORE_KEY_SECRET_MAX], admin_secret[STORE_KEY_SECRET_MAX];
    REQUIRE(store_key_create(s, p.id, NULL, &k, secret, &err) == 0);
    REQUIRE(store_key_create(s, NULL, NULL, &adm, admin_secret, &err) == 0);
    size_t n = strlen(secret);
    CHECK_EQ_INT(identify(s, NULL, 0, secret, n, &who), 0);
    CHECK(strcmp(who.key_id, k.id) == 0 && strcmp(who.project, p.id) == 0 && !who.admin);
    CHECK_EQ_INT(identify(s, serve, 2, secret, n, &who), 0); /* beside --api-key keys too */
    CHECK(strcmp(who.project, p.id) == 0);
    char longer[STORE_KEY_SECRET_MAX + 8];
    memcpy(longer, secret, n);
    memcpy(longer + n, "\0junk", 5);
    CHECK_EQ_INT(identify(s, NULL, 0, longer, n + 5, &who), AUTH_DENIED);
    CHECK_EQ_INT(identify(s, NULL, 0, "whatever", 8, &who), AUTH_DENIED); /* keys exist now: one is needed */
    CHECK_EQ_INT(identify(s, NULL, 0, admin_secret, strlen(admin_secret), &who), 0);
    CHECK(who.admin && !who.project[0] && strcmp(who.key_id, adm.id) == 0);
    /* revoked: refused at once; with every key revoked, a key is still needed */
    REQUIRE(store_key_revoke(s, k.id, &err) == 0);
    REQUIRE(store_key_revoke(s, adm.id, &err) == 0);
    CHECK_EQ_INT(identify(s, NULL, 0, secret, n, &who), AUTH_DENIED);
    CHECK_EQ_INT(auth_identify(s, NULL, 0, NULL, 0, &who, &err), AUTH_DENIED);
    store_close(s);
    nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

TEST(rate_limiter_buckets_by_key_id) {
    RateLimiter *r = rate_limiter_new(2);
    REQUIRE(r != NULL);
    CHECK_EQ_INT(rate_limiter_take(r, "key_a", 100.0), 0);
    CHECK_EQ_INT(rate_limiter_take(r, "key_a", 100.0), 0);
    int wait = rate_limiter_take(r, "key_a", 100.0);
    CHECK(wait >= 1 && wait <= 30);
    CHECK_EQ_INT(rate_limiter_take(r, "key_b", 100.0), 0); /* another key: its own bucket */
    CHECK_EQ_INT(rate_limiter_take(r, "", 100.0), 0);      /* no key: one more */
    CHECK_EQ_INT(rate_limiter_take(r, "key_a", 130.5), 0); /* refilled at 2 a minute */
    rate_limiter_free(r);
    CHECK(rate_limiter_new(0) == NULL);
    CHECK_EQ_INT(rate_limiter_take(NULL, "key_a", 0), 0);
}
