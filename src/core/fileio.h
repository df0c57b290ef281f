/* fileio.h: read-only file mappings and whole-file reads, with errors that name the file.
 * and the crash-safe writer. */
#ifndef FTUNE_FILEIO_H
#define FTUNE_FILEIO_H

#include <stddef.h>

#include "err.h"

typedef struct {
    const unsigned char *data; /* read-only mapping of the whole file; NULL for an empty file */
    size_t size;
} MappedFile;

/* Maps path read-only. On failure fills err (ERR_IO) naming the file. The mapping is owned by the
 * caller and released with file_unmap. Thread-safe. */
int file_map(const char *path, MappedFile *out, Err *err);
void file_unmap(MappedFile *f); /* a zeroed MappedFile is a no-op */

/* Crash-safe writing: file_atomic_open creates "<path>.tmp"; the caller writes to it with
 * file_atomic_write (or stdio on *fp); then file_atomic_commit flushes, fsyncs, renames over path
 * and fsyncs the directory, so that path holds either the old or the whole new content after a
 * crash. On any failure (a failed write included) the temporary file is removed and err names
 * path; a failed directory fsync is a failure too (the rename may not survive a crash), though
 * path then already holds the new content. file_atomic_abort discards it. Each create, write,
 * flush, fsync and rename is a fault-injection site (fault.h). */
typedef struct {
    void *fp;         /* FILE * */
    int write_errno;  /* the first failed file_atomic_write's errno; 0 = none */
    char tmp[4096];
    char path[4096];
} AtomicFile;
int file_atomic_open(AtomicFile *af, const char *path, Err *err);
/* Appends len bytes; a failure is remembered and reported by file_atomic_commit. */
void file_atomic_write(AtomicFile *af, const void *data, size_t len);
/* Writes len bytes as the whole new content of path, crash-safely (the three calls in one). */
int file_write_atomic(const char *path, const void *data, size_t len, Err *err);
int file_atomic_commit(AtomicFile *af, Err *err);
void file_atomic_abort(AtomicFile *af);

/* Reads the whole file into a NUL-terminated heap buffer (*out, caller frees); *len excludes the
 * terminator. max_size bounds what is accepted (ERR_FORMAT if larger). */
int file_read_all(const char *path, size_t max_size, char **out, size_t *len, Err *err);

/* 1 if path is an existing directory, else 0. */
int file_is_dir(const char *path);
/* mkdir -p: creates path and its missing parents with mode; ERR_IO naming the one that failed. */
int file_make_dirs(const char *path, unsigned mode, Err *err);
/* Removes path and everything under it (a missing path is not an error). ERR_IO naming the first
 * entry that could not be removed. */
int file_remove_tree(const char *path, Err *err);

/* 1 if path names an existing regular file, else 0. */
int file_exists(const char *path);

#endif
