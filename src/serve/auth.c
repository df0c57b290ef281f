/* auth.c: auth_identify (see auth.h). The --api-key keys are compared by digest in constant time,
 * all of them every time; store keys by an indexed lookup of the digest (store_projects.c). */
#include "auth.h"

#include <stdio.h>
#include <string.h>

#include "../core/digest.h"

#define AUTH_SCHEME "Bearer "

/* The index of the --api-key key whose bytes are token's, or -1. */
static int serve_key_index(const char *const *keys, int n, const char *token, size_t len) {
    unsigned char want[DIGEST_SHA256_BYTES], have[DIGEST_SHA256_BYTES];
    digest_sha256(token, len, want);
    int found = -1;
    for (int i = 0; i < n; i++) {
        digest_sha256(keys[i], strlen(keys[i]), have);
        if (digest_equal(want, have, sizeof have)) found = i;
    }
    return found;
}

static void act_as_operator(Principal *who, const char *key_id) {
    snprintf(who->key_id, sizeof who->key_id, "%s", key_id);
    snprintf(who->project, sizeof who->project, "%s", STORE_DEFAULT_PROJECT);
    who->admin = true;
}

int auth_identify(Store *s, const char *const *serve_keys, int n_serve_keys, const char *header, size_t header_len,
                  Principal *who, Err *err) {
    memset(who, 0, sizeof *who);
    size_t scheme = strlen(AUTH_SCHEME);
    bool bearer = header && header_len > scheme && strncmp(header, AUTH_SCHEME, scheme) == 0;
    const char *token = bearer ? header + scheme : NULL;
    size_t len = bearer ? header_len - scheme : 0;
    if (token) {
        int i = serve_key_index(serve_keys, n_serve_keys, token, len);
        if (i >= 0) {
            char id[32];
            snprintf(id, sizeof id, "serve-key-%d", i + 1);
            act_as_operator(who, id);
            return 0;
        }
        KeyRecord k;
        int rc = store_key_find(s, token, len, &k, err);
        if (rc < 0) return -1;
        if (rc == 0) {
            snprintf(who->key_id, sizeof who->key_id, "%s", k.id);
            snprintf(who->project, sizeof who->project, "%s", k.project);
            who->admin = k.admin;
            return 0;
        }
    }
    bool any = n_serve_keys > 0;
    if (!any && store_key_any(s, &any, err)) return -1;
    if (any) return AUTH_DENIED;
    act_as_operator(who, ""); /* a server without keys: anyone, as before projects */
    return 0;
}
