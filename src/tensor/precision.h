/* precision.h: which arithmetic the base-weight products use, chosen at run time. fp32 is the
 * reference path (OpenBLAS sgemm, matmul.h); bf16 rounds both operands to bfloat16 and accumulates
 * in fp32 through oneDNN (matmul_bf16.h). "auto" picks bf16 where the CPU has AMX-BF16 tiles (and
 * ftune was built with oneDNN), fp32 elsewhere: on AVX512-BF16 without AMX bf16 halves the bytes
 * but not the arithmetic, so it is available on request only. */
#ifndef FTUNE_PRECISION_H
#define FTUNE_PRECISION_H

#include <stddef.h>

#include "../core/err.h"

typedef enum { PRECISION_AUTO = 0, PRECISION_FP32 = 1, PRECISION_BF16 = 2 } Precision;

#define PRECISION_CHOICES "auto, fp32 or bf16"
#define PRECISION_WHY_MAX 160

/* "auto", "fp32" or "bf16" into *out; ERR_ARG naming the bad value otherwise. */
int precision_parse(const char *s, Precision *out, Err *err);
const char *precision_name(Precision p); /* "auto", "fp32", "bf16" */

/* Resolves want (auto: see above) into *got (fp32 or bf16) and writes why (PRECISION_WHY_MAX
 * bytes, may be NULL): the CPU feature and backend behind the choice, e.g. "bf16 (AMX-BF16 on
 * Intel(R) Xeon(R) Processor, oneDNN avx512_core_amx)". An explicit bf16 where the build has no
 * oneDNN or the CPU has neither AMX-BF16 nor AVX512-BF16 is ERR_UNSUPPORTED saying which. */
int precision_resolve(Precision want, Precision *got, char *why, Err *err);

#endif
