/* cpu_features.h: what this CPU can do, read once with CPUID (and XGETBV for what the operating
 * system enables), so that fast paths are chosen at run time: AVX2, FMA, AVX-512, AVX512-BF16 and the
 * AMX tile unit with its bf16 instructions; and the CPU's model name for logs and benchmarks. It
 * decides nothing itself (tensor/precision.h does). */
#ifndef FTUNE_CPU_FEATURES_H
#define FTUNE_CPU_FEATURES_H

#include <stdbool.h>

typedef struct {
    bool avx2;
    bool fma;         /* FMA3 (VFMADD231PS ...), with the AVX state enabled */
    bool avx512f;
    bool avx512_bf16; /* VCVTNE2PS2BF16 / VDPBF16PS (Intel Cooper Lake+, AMD Zen 4+) */
    bool amx_bf16;    /* AMX tiles with TDPBF16PS, enabled by the OS (Intel Sapphire Rapids+) */
    char model[64];   /* e.g. "Intel(R) Xeon(R) Processor"; "unknown" when CPUID has no brand string */
} CpuFeatures;

/* The features of the CPU this process runs on (computed once; thread-safe). */
const CpuFeatures *cpu_features(void);

#endif
