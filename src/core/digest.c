/* digest.c: SHA-256 through OpenSSL's one-shot EVP_Digest and CRYPTO_memcmp; file digests through
 * EVP's streaming calls (see digest.h). */
#include "digest.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void digest_sha256(const void *data, size_t len, unsigned char out[DIGEST_SHA256_BYTES]) {
    unsigned int n = 0;
    /* EVP_Digest fails only without memory or a SHA-256 implementation: a digest that silently
     * differed would let no key in, or the wrong one, so that is fatal */
    if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL) || n != DIGEST_SHA256_BYTES) abort();
}

static void to_hex(const unsigned char *raw, int n, char *out) {
    static const char HEX[] = "0123456789abcdef";
    for (int i = 0; i < n; i++) {
        out[2 * i] = HEX[raw[i] >> 4];
        out[2 * i + 1] = HEX[raw[i] & 15];
    }
    out[2 * n] = 0;
}

void digest_sha256_hex(const void *data, size_t len, char out[DIGEST_SHA256_HEX]) {
    unsigned char raw[DIGEST_SHA256_BYTES];
    digest_sha256(data, len, raw);
    to_hex(raw, DIGEST_SHA256_BYTES, out);
}

/* Hashes the file with md, after the prefix (may be empty); out gets the hex. */
static int digest_file(const char *path, const EVP_MD *md, const char *prefix, size_t prefix_len, char *out,
                       Err *err) {
    FILE *f = fopen(path, "rb");
    if (!f) return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (!ctx || !EVP_DigestInit_ex(ctx, md, NULL)) abort(); /* as in digest_sha256 */
    EVP_DigestUpdate(ctx, prefix, prefix_len);
    static __thread unsigned char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0) EVP_DigestUpdate(ctx, buf, n);
    int failed = ferror(f);
    fclose(f);
    unsigned char raw[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!EVP_DigestFinal_ex(ctx, raw, &len)) abort();
    EVP_MD_CTX_free(ctx);
    if (failed) return err_set(err, ERR_IO, "%s: read error", path);
    to_hex(raw, (int)len, out);
    return 0;
}

int digest_file_sha256_hex(const char *path, char out[DIGEST_SHA256_HEX], Err *err) {
    return digest_file(path, EVP_sha256(), "", 0, out, err);
}

int digest_file_git_blob_hex(const char *path, char out[DIGEST_SHA1_HEX], Err *err) {
    struct stat st;
    if (stat(path, &st) != 0) return err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
    char prefix[48];
    int n = snprintf(prefix, sizeof prefix, "blob %lld", (long long)st.st_size);
    return digest_file(path, EVP_sha1(), prefix, (size_t)n + 1, out, err); /* the NUL counts */
}

bool digest_equal(const void *a, const void *b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }
