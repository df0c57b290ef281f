/* store_fault.c: SQLite's share of fault injection (core/fault.h). When FTUNE_FAULT is set, a VFS
 * shim becomes the default VFS: it passes every call to the system's VFS, except that a write or
 * truncate (kind write) and an xSync (kind fsync) of any database, WAL or journal file can be made
 * to fail, as a full or failing disk would; and SQLite's allocator is wrapped (SQLITE_CONFIG_MALLOC)
 * so that its allocations (kind sqlalloc) can fail. SQLite's own sqlite3_test_control hooks are not
 * in release builds; these are public interfaces. Installed once, before the first connection
 * (store_open); without FTUNE_FAULT nothing is installed. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>

#include "../core/fault.h"
#include "store_internal.h"

static sqlite3_vfs *real_vfs;
static sqlite3_vfs shim_vfs;
static sqlite3_mem_methods real_mem;

typedef struct {
    sqlite3_file base;
    sqlite3_file *real; /* the system VFS's file, in the same allocation right after this struct */
} FaultFile;

#define REAL(f) (((FaultFile *)(f))->real)

static int f_close(sqlite3_file *f) { return REAL(f)->pMethods->xClose(REAL(f)); }
static int f_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off) {
    return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}
static int f_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off) {
    if (fault_fire(FAULT_WRITE, "sqlite xWrite")) return SQLITE_IOERR_WRITE;
    return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 size) {
    if (fault_fire(FAULT_WRITE, "sqlite xTruncate")) return SQLITE_IOERR_TRUNCATE;
    return REAL(f)->pMethods->xTruncate(REAL(f), size);
}
static int f_sync(sqlite3_file *f, int flags) {
    if (fault_fire(FAULT_FSYNC, "sqlite xSync")) return SQLITE_IOERR_FSYNC;
    return REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *size) { return REAL(f)->pMethods->xFileSize(REAL(f), size); }
static int f_lock(sqlite3_file *f, int lock) { return REAL(f)->pMethods->xLock(REAL(f), lock); }
static int f_unlock(sqlite3_file *f, int lock) { return REAL(f)->pMethods->xUnlock(REAL(f), lock); }
static int f_reserved(sqlite3_file *f, int *out) { return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out); }
static int f_control(sqlite3_file *f, int op, void *arg) { return REAL(f)->pMethods->xFileControl(REAL(f), op, arg); }
static int f_sector(sqlite3_file *f) { return REAL(f)->pMethods->xSectorSize(REAL(f)); }
static int f_device(sqlite3_file *f) { return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f)); }
static int f_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out) {
    return REAL(f)->pMethods->xShmMap(REAL(f), page, size, extend, out);
}
static int f_shm_lock(sqlite3_file *f, int offset, int n, int flags) {
    return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}
static void f_shm_barrier(sqlite3_file *f) { REAL(f)->pMethods->xShmBarrier(REAL(f)); }
static int f_shm_unmap(sqlite3_file *f, int del) { return REAL(f)->pMethods->xShmUnmap(REAL(f), del); }
static int f_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out) {
    return REAL(f)->pMethods->xFetch(REAL(f), off, n, out);
}
static int f_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) { return REAL(f)->pMethods->xUnfetch(REAL(f), off, p); }

/* Version 3 (shared memory for WAL, memory-mapped reads): what the unix VFS provides. */
static const sqlite3_io_methods FAULT_IO = {
    3,        f_close,   f_read,   f_write,       f_truncate, f_sync,   f_size,  f_lock,    f_unlock,
    f_reserved, f_control, f_sector, f_device, f_shm_map, f_shm_lock, f_shm_barrier, f_shm_unmap, f_fetch, f_unfetch};

static int v_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags) {
    (void)vfs;
    FaultFile *ff = (FaultFile *)file;
    ff->real = (sqlite3_file *)(ff + 1);
    int rc = real_vfs->xOpen(real_vfs, name, ff->real, flags, out_flags);
    /* a file the system VFS did not open (pMethods NULL) is not closed by SQLite */
    ff->base.pMethods = rc == SQLITE_OK && ff->real->pMethods ? &FAULT_IO : NULL;
    return rc;
}
static int v_delete(sqlite3_vfs *v, const char *name, int sync_dir) {
    (void)v;
    return real_vfs->xDelete(real_vfs, name, sync_dir);
}
static int v_access(sqlite3_vfs *v, const char *name, int flags, int *out) {
    (void)v;
    return real_vfs->xAccess(real_vfs, name, flags, out);
}
static int v_fullpath(sqlite3_vfs *v, const char *name, int n, char *out) {
    (void)v;
    return real_vfs->xFullPathname(real_vfs, name, n, out);
}
static int v_randomness(sqlite3_vfs *v, int n, char *out) {
    (void)v;
    return real_vfs->xRandomness(real_vfs, n, out);
}
static int v_sleep(sqlite3_vfs *v, int us) {
    (void)v;
    return real_vfs->xSleep(real_vfs, us);
}
static int v_time(sqlite3_vfs *v, double *out) {
    (void)v;
    return real_vfs->xCurrentTime(real_vfs, out);
}
static int v_last_error(sqlite3_vfs *v, int n, char *out) {
    (void)v;
    return real_vfs->xGetLastError(real_vfs, n, out);
}
static int v_time64(sqlite3_vfs *v, sqlite3_int64 *out) {
    (void)v;
    return real_vfs->xCurrentTimeInt64(real_vfs, out);
}

static void *m_malloc(int n) { return fault_fire(FAULT_SQL_ALLOC, "sqlite xMalloc") ? NULL : real_mem.xMalloc(n); }
static void *m_realloc(void *p, int n) {
    return fault_fire(FAULT_SQL_ALLOC, "sqlite xRealloc") ? NULL : real_mem.xRealloc(p, n);
}

static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void install(void) {
    if (!fault_armed()) return;
    /* the allocator first: sqlite3_config works only before SQLite initialises */
    sqlite3_mem_methods mem;
    if (sqlite3_config(SQLITE_CONFIG_GETMALLOC, &real_mem) == SQLITE_OK) {
        mem = real_mem;
        mem.xMalloc = m_malloc;
        mem.xRealloc = m_realloc;
        if (sqlite3_config(SQLITE_CONFIG_MALLOC, &mem) != SQLITE_OK)
            fprintf(stderr, "ftune: %s: SQLite's allocator could not be wrapped\n", FAULT_ENV);
    }
    real_vfs = sqlite3_vfs_find(NULL);
    if (!real_vfs || real_vfs->iVersion < 2) {
        fprintf(stderr, "ftune: %s: no SQLite VFS to wrap\n", FAULT_ENV);
        return;
    }
    shim_vfs = (sqlite3_vfs){
        .iVersion = 2,
        .szOsFile = (int)sizeof(FaultFile) + real_vfs->szOsFile,
        .mxPathname = real_vfs->mxPathname,
        .zName = "ftune-fault",
        .xOpen = v_open,
        .xDelete = v_delete,
        .xAccess = v_access,
        .xFullPathname = v_fullpath,
        .xRandomness = v_randomness,
        .xSleep = v_sleep,
        .xCurrentTime = v_time,
        .xGetLastError = v_last_error,
        .xCurrentTimeInt64 = v_time64,
    };
    if (sqlite3_vfs_register(&shim_vfs, 1) != SQLITE_OK) fprintf(stderr, "ftune: %s: the VFS shim could not be registered\n", FAULT_ENV);
}

void store_fault_install(void) { pthread_once(&install_once, install); }
