/* tar.c: ustar writer (see tar.h): per file a 512-byte header (name, octal mode, size and mtime,
 * checksum of the header's bytes with its own field read as spaces, "ustar\0" "00"), the data
 * padded to 512 bytes; two zero blocks end the archive. */
#include "tar.h"

#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#define TAR_BLOCK 512

static int copy_data(FILE *out, FILE *in, unsigned long long size) {
    char buf[1 << 14];
    unsigned long long left = size;
    while (left) {
        size_t n = fread(buf, 1, left < sizeof buf ? (size_t)left : sizeof buf, in);
        if (n == 0 || fwrite(buf, 1, n, out) != n) return -1;
        left -= n;
    }
    static const char zeros[TAR_BLOCK];
    size_t pad = (size_t)((TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK);
    return pad && fwrite(zeros, 1, pad, out) != pad ? -1 : 0;
}

int tar_write(FILE *out, const char *const *names, const char *const *srcs, int n, Err *err) {
    for (int i = 0; i < n; i++) {
        size_t len = strlen(names[i]);
        if (len == 0 || len > TAR_MAX_NAME) return err_set(err, ERR_ARG, "tar: name '%s' does not fit", names[i]);
        FILE *in = fopen(srcs[i], "rb");
        struct stat st;
        if (!in || fstat(fileno(in), &st) != 0) {
            int e = errno;
            if (in) fclose(in);
            return err_set(err, ERR_IO, "%s: cannot read: %s", srcs[i], strerror(e));
        }
        unsigned char h[TAR_BLOCK] = {0};
        memcpy(h, names[i], len);
        snprintf((char *)h + 100, 8, "%07o", 0644);
        snprintf((char *)h + 108, 8, "%07o", 0);
        snprintf((char *)h + 116, 8, "%07o", 0);
        snprintf((char *)h + 124, 12, "%011llo", (unsigned long long)st.st_size);
        snprintf((char *)h + 136, 12, "%011llo", (unsigned long long)st.st_mtime);
        h[156] = '0';
        memcpy(h + 257, "ustar", 6);
        memcpy(h + 263, "00", 2);
        memset(h + 148, ' ', 8);
        unsigned sum = 0;
        for (int k = 0; k < TAR_BLOCK; k++) sum += h[k];
        snprintf((char *)h + 148, 8, "%06o", sum);
        h[155] = ' ';
        int rc = fwrite(h, 1, TAR_BLOCK, out) != TAR_BLOCK || copy_data(out, in, (unsigned long long)st.st_size);
        fclose(in);
        if (rc) return err_set(err, ERR_IO, "tar: writing %s into the archive failed: %s", names[i], strerror(errno));
    }
    static const char end[2 * TAR_BLOCK];
    if (fwrite(end, 1, sizeof end, out) != sizeof end) return err_set(err, ERR_IO, "tar: write failed: %s", strerror(errno));
    return 0;
}
