/* quant_bf16.h: a stored weight's rows rounded to bf16 (quant_bf16.c): the conversion of the bf16
 * copies and of the bf16 decode kernel, one function so that both give the same bits. */
#ifndef FTUNE_QUANT_BF16_H
#define FTUNE_QUANT_BF16_H

#include <stdbool.h>
#include <stdint.h>

#include "ops_quant.h"

/* dst (cnt, w->cols) = rows row0 .. row0 + cnt - 1 of w, each value dequantized (quant_dequantize)
 * and rounded to nearest even bf16. w->type must be supported. */
void quant_rows_bf16(uint16_t *dst, const QuantMatrix *w, int row0, int cnt);

/* Whether quant_rows_bf16 converts this type in registers on this CPU (else one value at a time:
 * slower than reading an existing bf16 copy). BF16 itself is only copied: false. */
bool quant_bf16_fast(uint32_t type);

#endif
