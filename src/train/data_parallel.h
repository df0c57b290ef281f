/* data_parallel.h: data-parallel training over MPI (Open MPI): the processes of one `mpirun` job
 * ("ranks") each run their share of every batch and sum their LoRA gradients with one
 * MPI_Allreduce per step, so every rank applies the same AdamW step to the same adapter. This file
 * is the only one that talks to MPI; it is compiled against it only when the build found Open MPI
 * (FTUNE_HAVE_MPI), and otherwise refuses a launch by mpirun with more than one process.
 *
 * A process joins MPI only when mpirun started it (Open MPI's OMPI_COMM_WORLD_SIZE / PMIX_RANK in
 * its environment): a plain `ftune` never calls MPI_Init (a singleton MPI_Init costs ~0.4 s and
 * forks a helper daemon here, and the server must not depend on it). A NULL DataParallel is the
 * single process: rank 0 of 1, every reduction a no-op. MPI errors are fatal (Open MPI's default
 * handler aborts the whole job), so the reductions return nothing. Not thread-safe: one thread
 * of each rank calls these, in the same order on every rank. */
#ifndef FTUNE_DATA_PARALLEL_H
#define FTUNE_DATA_PARALLEL_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

typedef struct DataParallel DataParallel;

/* Joins the MPI job when launched by mpirun (*out then holds this rank), else *out = NULL.
 * ERR_UNSUPPORTED when mpirun started several processes of an ftune built without MPI. */
int dp_join(DataParallel **out, Err *err);
/* MPI_Finalize after a clean run (every rank calls it); NULL is a no-op. */
void dp_leave(DataParallel *dp);
/* Ends every rank of the job with status (after a failure on this rank, which the others would
 * otherwise wait for in their next reduction); NULL or one rank: returns (the caller exits). */
void dp_abort(DataParallel *dp, int status);

int dp_rank(const DataParallel *dp); /* 0 for NULL */
int dp_size(const DataParallel *dp); /* 1 for NULL */
/* With several ranks, whether FTUNE_MPI_CHECK=1 asks for the adapters compared after every step. */
int dp_check_every_step(const DataParallel *dp);

/* v (n) := the sum over ranks of v, in place, in fp32: the gradient reduction. A barrier first
 * separates the time spent waiting for the slowest rank from the transfer (dp_timing). */
void dp_sum_floats(DataParallel *dp, float *v, size_t n);
/* v (n) := the sum over ranks, in double (loss sums and counts). */
void dp_sum_doubles(DataParallel *dp, double *v, int n);
/* Whether flag is non-zero on any rank (a stop decision every rank must share). */
int dp_any(DataParallel *dp, int flag);
/* ERR_FORMAT naming what when v (n) is not the same bytes on every rank (a 64-bit hash compared). */
int dp_check_same(DataParallel *dp, const float *v, size_t n, const char *what, Err *err);

typedef struct {
    long n_reductions;  /* dp_sum_floats calls */
    double bytes;       /* bytes each of them reduced (the last one's) */
    double wait_s;      /* total time in the barrier before them (load imbalance) */
    double reduce_s;    /* total time in MPI_Allreduce itself */
} DpTiming;
void dp_timing(const DataParallel *dp, DpTiming *t); /* zeros for NULL */

#endif
