/* fileio.c: mmap-based read-only file access, whole-file reads and the crash-safe writer. */
#include "fileio.h"

#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"

int file_map(const char *path, MappedFile *out, Err *err) {
    out->data = NULL;
    out->size = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0) return err_set(err, ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return err_set(err, ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return err_set(err, ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size > 0) {
        void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            int e = errno;
            close(fd);
            return err_set(err, ERR_IO, "%s: cannot map: %s", path, strerror(e));
        }
        out->data = p;
        out->size = (size_t)st.st_size;
    }
    close(fd);
    return 0;
}

void file_unmap(MappedFile *f) {
    if (f && f->data) munmap((void *)f->data, f->size);
    if (f) {
        f->data = NULL;
        f->size = 0;
    }
}

int file_read_all(const char *path, size_t max_size, char **out, size_t *len, Err *err) {
    *out = NULL;
    if (len) *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return err_set(err, ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 4096, n = 0;
    char *buf = fault_malloc(cap + 1);
    if (!buf) {
        fclose(fp);
        return err_set(err, ERR_NOMEM, "%s: out of memory", path);
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max_size) {
                free(buf);
                fclose(fp);
                return err_set(err, ERR_FORMAT, "%s: larger than the limit of %zu bytes", path, max_size);
            }
            cap = cap * 2 > max_size ? max_size : cap * 2;
            char *nb = fault_realloc(buf, cap + 1);
            if (!nb) {
                free(buf);
                fclose(fp);
                return err_set(err, ERR_NOMEM, "%s: out of memory", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    int bad = ferror(fp);
    fclose(fp);
    if (bad) {
        free(buf);
        return err_set(err, ERR_IO, "%s: read error", path);
    }
    buf[n] = 0;
    *out = buf;
    if (len) *len = n;
    return 0;
}

int file_atomic_open(AtomicFile *af, const char *path, Err *err) {
    af->fp = NULL;
    af->write_errno = 0;
    if (snprintf(af->path, sizeof af->path, "%s", path) >= (int)sizeof af->path ||
        snprintf(af->tmp, sizeof af->tmp, "%s.tmp", path) >= (int)sizeof af->tmp)
        return err_set(err, ERR_ARG, "%s: path too long", path);
    af->fp = fault_fire(FAULT_WRITE, "file_atomic_open") ? NULL : fopen(af->tmp, "wb");
    if (!af->fp) return err_set(err, ERR_IO, "%s: cannot create: %s", af->tmp, strerror(errno));
    return 0;
}

void file_atomic_write(AtomicFile *af, const void *data, size_t len) {
    if (af->write_errno || !len) return;
    if (fault_fire(FAULT_WRITE, "file_atomic_write")) af->write_errno = errno;
    else if (fwrite(data, 1, len, af->fp) != len) af->write_errno = errno ? errno : EIO;
}

void file_atomic_abort(AtomicFile *af) {
    if (af->fp) fclose(af->fp);
    af->fp = NULL;
    unlink(af->tmp);
}

/* fsync of the directory holding path: makes a rename into it durable. */
static int sync_parent_dir(const char *path) {
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = 0;
    int dfd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY);
    if (dfd < 0) return -1;
    int rc = fault_fire(FAULT_FSYNC, "file_atomic_commit directory") ? -1 : fsync(dfd);
    int e = errno;
    close(dfd);
    errno = e;
    return rc;
}

int file_atomic_commit(AtomicFile *af, Err *err) {
    FILE *fp = af->fp;
    int e = af->write_errno;
    bool bad = e != 0 || ferror(fp);
    if (!bad && (fault_fire(FAULT_WRITE, "file_atomic_commit flush") || fflush(fp) != 0)) bad = true, e = errno;
    if (!bad && (fault_fire(FAULT_FSYNC, "file_atomic_commit") || fsync(fileno(fp)) != 0)) bad = true, e = errno;
    if (fclose(fp) != 0 && !bad) bad = true, e = errno;
    af->fp = NULL;
    if (!bad && (fault_fire(FAULT_RENAME, "file_atomic_commit") || rename(af->tmp, af->path) != 0)) bad = true, e = errno;
    if (bad) {
        unlink(af->tmp);
        return err_set(err, ERR_IO, "%s: cannot write: %s", af->path, strerror(e ? e : EIO));
    }
    if (sync_parent_dir(af->path) != 0)
        return err_set(err, ERR_IO, "%s: cannot make the new file durable (directory fsync): %s", af->path,
                       strerror(errno));
    return 0;
}

int file_is_dir(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int file_make_dirs(const char *path, unsigned mode, Err *err) {
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) return err_set(err, ERR_IO, "%s: path too long", path);
    for (char *p = buf + 1;; p++) {
        if (*p != '/' && *p != 0) continue;
        char c = *p;
        *p = 0;
        if (mkdir(buf, (mode_t)mode) != 0 && errno != EEXIST)
            return err_set(err, ERR_IO, "%s: cannot create directory: %s", buf, strerror(errno));
        *p = c;
        if (!c) break;
    }
    if (!file_is_dir(path)) return err_set(err, ERR_IO, "%s: not a directory", path);
    return 0;
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int file_remove_tree(const char *path, Err *err) {
    struct stat st;
    if (lstat(path, &st) != 0) return errno == ENOENT ? 0 : err_set(err, ERR_IO, "%s: %s", path, strerror(errno));
    if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return err_set(err, ERR_IO, "%s: cannot remove: %s", path, strerror(errno));
    return 0;
}

int file_write_atomic(const char *path, const void *data, size_t len, Err *err) {
    AtomicFile af;
    if (file_atomic_open(&af, path, err)) return -1;
    file_atomic_write(&af, data, len);
    return file_atomic_commit(&af, err);
}
