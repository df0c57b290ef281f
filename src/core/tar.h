/* tar.h: writes a POSIX ustar archive of a few regular files (the server's adapter download in
 * the PEFT layout). Names are stored flat (no directories), mode 0644, the files' mtime; what the
 * standard `tar` and Python's tarfile read. It reads no archives. */
#ifndef FTUNE_TAR_H
#define FTUNE_TAR_H

#include <stdio.h>

#include "err.h"

#define TAR_MAX_NAME 99 /* bytes of a stored name (ustar's name field, without a prefix) */

/* Appends files srcs[i] under names[i] (at most TAR_MAX_NAME bytes each) and the end-of-archive
 * blocks to out. ERR_IO naming the file that could not be read or the archive write that failed;
 * ERR_ARG for a name that does not fit. */
int tar_write(FILE *out, const char *const *names, const char *const *srcs, int n, Err *err);

#endif
