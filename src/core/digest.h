/* digest.h: SHA-256 (OpenSSL's libcrypto does the hashing) and a constant-time comparison, for API
 * keys: the store keeps only a key's digest, and a presented key is compared by its digest, whose
 * bytes say nothing an attacker can use about the secret. Also the digests of a whole file that a
 * download is checked against: SHA-256 (what the Hugging Face Hub publishes for its LFS files) and
 * Git's blob SHA-1 (its id for the others). Does not generate secrets (the store's random source
 * does) and keeps no state. */
#ifndef FTUNE_DIGEST_H
#define FTUNE_DIGEST_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

#define DIGEST_SHA256_BYTES 32
#define DIGEST_SHA256_HEX (2 * DIGEST_SHA256_BYTES + 1) /* lower-case hex and its NUL */
#define DIGEST_SHA1_HEX 41                                /* a Git object id and its NUL */

/* The SHA-256 of len bytes of data (every byte counts, NULs included). Thread-safe. */
void digest_sha256(const void *data, size_t len, unsigned char out[DIGEST_SHA256_BYTES]);
/* The same as lower-case hex, NUL-terminated. */
void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_SHA256_HEX]);
/* True when the n bytes of a and b are equal, in time that depends only on n. */
bool digest_equal(const void *a, const void *b, size_t n);

/* The SHA-256 of a whole file's bytes as lower-case hex, read in pieces (any size). err names the
 * file when it cannot be read. */
int digest_file_sha256_hex(const char *path, char out[DIGEST_SHA256_HEX], Err *err);
/* Git's id of the file's content as a blob: SHA-1 of "blob <size>\0" then the bytes. */
int digest_file_git_blob_hex(const char *path, char out[DIGEST_SHA1_HEX], Err *err);

#endif
