/* store_reserve.c: the data directory's reserve of disk space (<data>/reserve, STORE_RESERVE_BYTES
 * of allocated zeros). On a full disk the writes that free space or record a failure (deletes, a
 * job that fails) must still get through, and SQLite needs a few free pages for any of them: a
 * connection that allows it (store_reserve_use) gives the reserve back to the filesystem when a
 * write fails with SQLITE_FULL and retries that write once. The reserve is made again by
 * store_reserve_ensure once there is room. It does not watch free space or refuse writes early. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../core/fault.h"
#include "store_internal.h"

static void reserve_path(const char *data_dir, char *out, size_t size) {
    snprintf(out, size, "%s/%s", data_dir, STORE_RESERVE_FILE);
}

int store_reserve_ensure(const char *data_dir, Err *err) {
    char path[STORE_PATH_MAX];
    reserve_path(data_dir, path, sizeof path);
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size >= STORE_RESERVE_BYTES) return 0;
    int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return err_set(err, ERR_IO, "%s: cannot create: %s", path, strerror(errno));
    /* blocks really allocated, not a sparse file */
    int rc = fault_fire(FAULT_WRITE, "reserve fallocate") ? EIO : posix_fallocate(fd, 0, STORE_RESERVE_BYTES);
    if (rc == 0 && (fault_fire(FAULT_FSYNC, "reserve fsync") || fsync(fd) != 0)) rc = errno;
    close(fd);
    if (rc == 0) return 0;
    unlink(path); /* a partial reserve only takes space */
    return err_set(err, ERR_IO, "%s: cannot reserve %d bytes: %s", path, STORE_RESERVE_BYTES, strerror(rc));
}

bool store_reserve_release(const char *data_dir) {
    char path[STORE_PATH_MAX];
    reserve_path(data_dir, path, sizeof path);
    return unlink(path) == 0;
}

void store_reserve_use(Store *s, bool on) { s->use_reserve = on; }
