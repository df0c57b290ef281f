/* digest.c: SHA-256 through OpenSSL's one-shot EVP_Digest and CRYPTO_memcmp (see digest.h). */
#include "digest.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>

void digest_sha256(const void *data, size_t len, unsigned char out[DIGEST_SHA256_BYTES]) {
    unsigned int n = 0;
    /* EVP_Digest fails only without memory or a SHA-256 implementation: a digest that silently
     * differed would let no key in, or the wrong one, so that is fatal */
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != DIGEST_SHA256_BYTES) abort();
}

void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_SHA256_HEX]) {
    static const char HEX[] = "0123456789abcdef";
    unsigned char raw[DIGEST_SHA256_BYTES];
    digest_sha256(data, len, raw);
    for (int i = 0; i < DIGEST_SHA256_BYTES; i++) {
        out[2 * i] = HEX[raw[i] >> 4];
        out[2 * i + 1] = HEX[raw[i] & 15];
    }
    out[2 * DIGEST_SHA256_BYTES] = 0;
}

bool digest_equal(const void *a, const void *b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }
