/* data_parallel.c: the MPI calls of data-parallel training (see data_parallel.h). Built against
 * Open MPI when the Makefile found it (FTUNE_HAVE_MPI); without it every handle is NULL and only
 * the refusal of a multi-process launch remains. */
#include "data_parallel.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "../core/clock.h"

#ifdef FTUNE_HAVE_MPI
#include <mpi.h>
#endif

/* The number of processes mpirun started, from the environment it gives each of them (Open MPI
 * sets OMPI_COMM_WORLD_SIZE; PMIx launchers PMIX_RANK); 0 when not launched by mpirun. */
static int launched_size(void) {
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    if (s && atoi(s) > 0) return atoi(s);
    return getenv("PMIX_RANK") ? 1 : 0;
}

#ifdef FTUNE_HAVE_MPI

struct DataParallel {
    int rank, size;
    int check_every_step;
    DpTiming timing;
};

int dp_join(DataParallel **out, Err *err) {
    *out = NULL;
    if (!launched_size()) return 0;
    int inited = 0;
    MPI_Initialized(&inited);
    if (inited) return err_set(err, ERR_ARG, "MPI is already initialised in this process");
    DataParallel *dp = calloc(1, sizeof *dp);
    if (!dp) return err_set(err, ERR_NOMEM, "out of memory");
    /* only the calling thread makes MPI calls (OpenMP threads never do) */
    int provided;
    MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided);
    MPI_Comm_rank(MPI_COMM_WORLD, &dp->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &dp->size);
    const char *check = getenv("FTUNE_MPI_CHECK");
    dp->check_every_step = check && strcmp(check, "1") == 0;
    *out = dp;
    return 0;
}

void dp_leave(DataParallel *dp) {
    if (!dp) return;
    MPI_Finalize();
    free(dp);
}

void dp_abort(DataParallel *dp, int status) {
    if (dp && dp->size > 1) MPI_Abort(MPI_COMM_WORLD, status ? status : 1);
}

void dp_sum_floats(DataParallel *dp, float *v, size_t n) {
    if (!dp || dp->size == 1) return;
    /* one contiguous buffer, one call (a LoRA adapter is far below INT_MAX floats) */
    double t0 = clock_now_s();
    MPI_Barrier(MPI_COMM_WORLD);
    double t1 = clock_now_s();
    for (size_t off = 0; off < n; off += INT_MAX) {
        int k = n - off < INT_MAX ? (int)(n - off) : INT_MAX;
        MPI_Allreduce(MPI_IN_PLACE, v + off, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
    }
    double t2 = clock_now_s();
    dp->timing.n_reductions++;
    dp->timing.bytes = (double)n * sizeof(float);
    dp->timing.wait_s += t1 - t0;
    dp->timing.reduce_s += t2 - t1;
}

void dp_sum_doubles(DataParallel *dp, double *v, int n) {
    if (dp && dp->size > 1) MPI_Allreduce(MPI_IN_PLACE, v, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
}

int dp_any(DataParallel *dp, int flag) {
    if (!dp || dp->size == 1) return flag != 0;
    int any = flag != 0;
    MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return any;
}

/* 64-bit FNV-1a over 8-byte words (then the tail): enough to tell two adapters apart */
static uint64_t hash_bytes(const void *p, size_t n) {
    const unsigned char *b = p;
    uint64_t h = 0xcbf29ce484222325ull, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, b + i, 8);
        h = (h ^ w) * 0x100000001b3ull;
        h ^= h >> 29;
    }
    for (; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

int dp_check_same(DataParallel *dp, const float *v, size_t n, const char *what, Err *err) {
    if (!dp || dp->size == 1) return 0;
    uint64_t h = hash_bytes(v, n * sizeof(float)), lo = h, hi = h;
    MPI_Allreduce(MPI_IN_PLACE, &lo, 1, MPI_UINT64_T, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(MPI_IN_PLACE, &hi, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
    if (lo != hi)
        return err_set(err, ERR_FORMAT, "%s differs between the MPI ranks (rank %d's checksum %016llx)", what, dp->rank,
                       (unsigned long long)h);
    return 0;
}

#else /* built without MPI: no handle is ever made */

int dp_join(DataParallel **out, Err *err) {
    *out = NULL;
    int n = launched_size();
    if (n > 1)
        return err_set(err, ERR_UNSUPPORTED,
                       "started by mpirun as one of %d processes, but this ftune was built without MPI "
                       "(install libopenmpi-dev and rebuild)",
                       n);
    return 0;
}

void dp_leave(DataParallel *dp) { (void)dp; }
void dp_abort(DataParallel *dp, int status) { (void)dp, (void)status; }
void dp_sum_floats(DataParallel *dp, float *v, size_t n) { (void)dp, (void)v, (void)n; }
void dp_sum_doubles(DataParallel *dp, double *v, int n) { (void)dp, (void)v, (void)n; }
int dp_any(DataParallel *dp, int flag) { return (void)dp, flag != 0; }
int dp_check_same(DataParallel *dp, const float *v, size_t n, const char *what, Err *err) {
    return (void)dp, (void)v, (void)n, (void)what, (void)err, 0;
}

#endif

int dp_rank(const DataParallel *dp) {
#ifdef FTUNE_HAVE_MPI
    if (dp) return dp->rank;
#endif
    return (void)dp, 0;
}

int dp_size(const DataParallel *dp) {
#ifdef FTUNE_HAVE_MPI
    if (dp) return dp->size;
#endif
    return (void)dp, 1;
}

int dp_check_every_step(const DataParallel *dp) {
#ifdef FTUNE_HAVE_MPI
    if (dp) return dp->size > 1 && dp->check_every_step;
#endif
    return (void)dp, 0;
}

void dp_timing(const DataParallel *dp, DpTiming *t) {
    memset(t, 0, sizeof *t);
#ifdef FTUNE_HAVE_MPI
    if (dp) *t = dp->timing;
#endif
    (void)dp;
}
