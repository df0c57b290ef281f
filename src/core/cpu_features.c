/* cpu_features.c: CPUID leaves 1, 7.0, 7.1 and the brand string 0x80000002..4; XCR0 says which
 * register states the OS saves (AVX: bits 1-2, AVX-512: 5-7, AMX tiles: 17-18). */
#include "cpu_features.h"

#include <cpuid.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static CpuFeatures features;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static uint64_t xcr0(void) {
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((uint64_t)hi << 32) | lo;
}

static void brand_string(char *out, size_t cap) {
    unsigned a, b, c, d, max;
    __cpuid(0x80000000u, max, b, c, d);
    if (max < 0x80000004u) {
        snprintf(out, cap, "unknown");
        return;
    }
    char s[49] = {0};
    for (unsigned i = 0; i < 3; i++) {
        __cpuid(0x80000002u + i, a, b, c, d);
        memcpy(s + 16 * i, &a, 4), memcpy(s + 16 * i + 4, &b, 4), memcpy(s + 16 * i + 8, &c, 4),
            memcpy(s + 16 * i + 12, &d, 4);
    }
    const char *p = s;
    while (*p == ' ') p++;
    snprintf(out, cap, "%s", *p ? p : "unknown");
}

static void detect(void) {
    CpuFeatures *f = &features;
    unsigned a, b, c, d;
    brand_string(f->model, sizeof f->model);
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & (1u << 27))) return; /* no OSXSAVE: no AVX state */
    uint64_t x = xcr0();
    bool avx_os = (x & 0x6) == 0x6, avx512_os = avx_os && (x & 0xe0) == 0xe0, amx_os = (x & 0x60000) == 0x60000;
    f->fma = avx_os && (c & (1u << 12));
    if (__get_cpuid_max(0, NULL) < 7) return;
    __cpuid_count(7, 0, a, b, c, d);
    f->avx2 = avx_os && (b & (1u << 5));
    f->avx512f = avx512_os && (b & (1u << 16));
    f->amx_bf16 = amx_os && (d & (1u << 22)) && (d & (1u << 24)); /* AMX-BF16 and AMX-TILE */
    unsigned max_sub = a;
    if (max_sub >= 1) {
        __cpuid_count(7, 1, a, b, c, d);
        f->avx512_bf16 = f->avx512f && (a & (1u << 5));
    }
}

const CpuFeatures *cpu_features(void) {
    pthread_once(&once, detect);
    return &features;
}
