/* digest.h: SHA-256 (OpenSSL's libcrypto does the hashing) and a constant-time comparison, for API
 * keys: the store keeps only a key's digest, and a presented key is compared by its digest, whose
 * bytes say nothing an attacker can use about the secret. Does not generate secrets (the store's
 * random source does) and keeps no state. */
#ifndef FTUNE_DIGEST_H
#define FTUNE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#define DIGEST_SHA256_BYTES 32
#define DIGEST_SHA256_HEX (2 * DIGEST_SHA256_BYTES + 1) /* lower-case hex and its NUL */

/* The SHA-256 of len bytes of data (every byte counts, NULs included). Thread-safe. */
void digest_sha256(const void *data, size_t len, unsigned char out[DIGEST_SHA256_BYTES]);
/* The same as lower-case hex, NUL-terminated. */
void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_SHA256_HEX]);
/* True when the n bytes of a and b are equal, in time that depends only on n. */
bool digest_equal(const void *a, const void *b, size_t n);

#endif
