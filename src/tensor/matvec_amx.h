/* matvec_amx.h: inference's decode rows at bf16 on AMX tiles (matvec_amx.c), the fast path of
 * bf16_matvec_rows (matmul_bf16.h) where the CPU and the kernel allow it. */
#ifndef FTUNE_MATVEC_AMX_H
#define FTUNE_MATVEC_AMX_H

#include <stdbool.h>
#include <stdint.h>

#include "ops_quant.h"

/* Whether AMX-BF16 is there and Linux granted this process the tile state (asked once). */
bool amx_matvec_available(void);

/* y (n, rows) = xb (n, cols) W^T + bias (may be NULL), xb in bf16, W = w in bf16 (quant_rows_bf16's
 * values; w->bf16 must be set): each row's result the same whatever n is and whichever rows share
 * the call. Where w->amx_tiles is set the weights are read from there, not laid out into tiles on
 * the call (the same bits). Only where amx_matvec_available(). */
void amx_matvec_rows(float *y, const uint16_t *xb, const QuantMatrix *w, const float *bias, int n);

/* bf16 values of w's tile layout (rows, cols), for amx_pack_tiles's dst. */
size_t amx_tiles_elems(int rows, int cols);
/* dst (amx_tiles_elems, 64-byte aligned) = w's bf16 copy (w->bf16 must be set) in the tile layout amx_matvec_rows
 * reads from w->amx_tiles: for a weight used by many calls (an encoder's layers), the layout is
 * then made once instead of on each call. Only where amx_matvec_available(). */
void amx_pack_tiles(uint16_t *dst, const QuantMatrix *w);

#endif
