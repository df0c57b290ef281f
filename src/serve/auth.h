/* auth.h: who is asking: the Authorization header checked against the server's --api-key keys
 * and the keys in the store, read on every request (no cache: a key created or revoked with
 * `ftune keys` counts from the server's next request). Keys are compared by their SHA-256 digest
 * over every byte of the header's value: "Bearer K1\0junk" is not K1.
 *
 * The model: a project key (sk-proj-...) acts in its project only; an admin key (sk-admin-...)
 * manages projects and keys and nothing else; a --api-key key is the operator's: it acts in the
 * default project and may also manage projects and keys. A server with no --api-key and no key
 * ever created in its store needs no key, as before projects: every request acts in the default
 * project with every right. This file does not answer HTTP (server.c turns a refusal into a 401). */
#ifndef FTUNE_AUTH_H
#define FTUNE_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#include "../store/store.h"

#define AUTH_DENIED 1

typedef struct {
    char key_id[STORE_ID_MAX];   /* key_... or serve-key-N (the Nth --api-key); "" without a key */
    char project[STORE_ID_MAX];  /* the project it acts in; "" for an admin key */
    bool admin;                  /* may manage projects and keys (/v1/organization/...) */
} Principal;

/* Identifies the caller from the Authorization header's value (header, header_len bytes; NULL
 * when absent): 0 with who filled, AUTH_DENIED when a key is needed and this is none of the active
 * ones, -1 with err when the store cannot be read. */
int auth_identify(Store *s, const char *const *serve_keys, int n_serve_keys, const char *header, size_t header_len,
                  Principal *who, Err *err);

#endif
