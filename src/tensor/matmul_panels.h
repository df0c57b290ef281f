/* matmul_panels.h: inference's prompt rows on AVX2 CPUs (builds without AVX-512): y = x W^T for
 * any number of rows, each row's bits independent of how many rows share the call and of where it
 * sits among them (the batch invariance that matmul.h asks of op_matmul_prompt), with no padding
 * to a library's block of rows. Each thread dequantizes PANEL_COLS weight rows at a time into a
 * panel (k-major: weight (j0 + j, k) at k * PANEL_COLS + j) and runs every row of x against it in
 * a register kernel of up to 6 rows by 16 columns; each output is one FMA chain over k = 0..K-1 in
 * order, starting from 0, whichever kernel size, thread or panel computes it. AVX-512 builds keep
 * op_matmul_prompt's library blocks (their 16-lane kernels; this 8-lane one was not measured
 * there). */
#ifndef FTUNE_MATMUL_PANELS_H
#define FTUNE_MATMUL_PANELS_H

#include <stdbool.h>

#include "ops_quant.h"

/* Whether this build has the kernel (AVX2 and FMA, no AVX-512). */
bool matmul_panels_available(void);
/* y (n, w->rows) = x (n, w->cols) W^T, any weight type; only where matmul_panels_available(). */
void matmul_panels(float *y, const float *x, const QuantMatrix *w, int n);

#endif
