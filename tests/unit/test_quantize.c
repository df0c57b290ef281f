/* test_quantize.c: quant_quantize against GGML's own reference quantizers, byte for byte, through
 * the golden files of scripts/golden_quantize.py (libggml from llama-cpp-python; PyPI gguf agrees
 * on the types it has), and a quantize -> dequantize round trip within each type's step. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "tensor/ops_quant.h"
#include "tensor/quantize.h"
#include "test.h"

static const struct {
    const char *name;
    uint32_t type;
} GOLDEN_TYPES[] = {{"F16", QUANT_F16}, {"BF16", QUANT_BF16}, {"Q8_0", QUANT_Q8_0}, {"Q5_0", QUANT_Q5_0},
                    {"Q4_0", QUANT_Q4_0}, {"Q4_K", QUANT_Q4_K}};

TEST(quantize_matches_ggml_reference_bytes) {
    for (size_t k = 0; k < sizeof GOLDEN_TYPES / sizeof GOLDEN_TYPES[0]; k++) {
        char path[256];
        snprintf(path, sizeof path, "tests/golden/quantize/%s.bin", GOLDEN_TYPES[k].name);
        char *buf;
        size_t len;
        Err err = {0};
        REQUIRE(file_read_all(test_path(path), 1 << 20, &buf, &len, &err) == 0);
        uint32_t hdr[5];
        REQUIRE(len >= 20);
        memcpy(hdr, buf, 20);
        REQUIRE(memcmp(buf, "FTQZ", 4) == 0 && hdr[1] == 1 && hdr[2] == GOLDEN_TYPES[k].type);
        uint32_t n = hdr[3], nbytes = hdr[4];
        REQUIRE(len == 20 + (size_t)n * 4 + nbytes && quant_row_bytes(hdr[2], n) == nbytes);
        float *x = malloc((size_t)n * 4);
        unsigned char *out = malloc(nbytes);
        memcpy(x, buf + 20, (size_t)n * 4);
        quant_quantize(hdr[2], x, n, out);
        const unsigned char *want = (const unsigned char *)buf + 20 + (size_t)n * 4;
        size_t bad = 0, first = 0;
        for (size_t i = 0; i < nbytes; i++)
            if (out[i] != want[i] && !bad++) first = i;
        if (bad) test_fail(__FILE__, __LINE__, "%s: %zu bytes differ from GGML's, the first at %zu", GOLDEN_TYPES[k].name, bad, first);
        free(x);
        free(out);
        free(buf);
    }
}

TEST(quantize_round_trip_within_the_step) {
    enum { N = 512 };
    float x[N], y[N];
    for (int i = 0; i < N; i++) x[i] = sinf((float)i * 0.37f) * (1.0f + (float)(i % 7));
    static const uint32_t types[] = {QUANT_F32, QUANT_F16, QUANT_BF16, QUANT_Q8_0, QUANT_Q5_0, QUANT_Q4_0, QUANT_Q4_K};
    static const float rel[] = {0, 1e-3f, 8e-3f, 1.0f / 127, 1.0f / 15, 1.0f / 7, 1.0f / 7};
    unsigned char buf[N * 4];
    for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
        REQUIRE(quant_can_quantize(types[k]));
        quant_quantize(types[k], x, N, buf);
        quant_dequantize(types[k], buf, N, y);
        for (int b = 0; b < N; b += 32) {
            float amax = 0;
            for (int i = b; i < b + 32; i++) amax = fmaxf(amax, fabsf(x[i]));
            for (int i = b; i < b + 32; i++)
                if (fabsf(y[i] - x[i]) > rel[k] * amax * 1.01f + 1e-7f) {
                    test_fail(__FILE__, __LINE__, "type %u: value %d is %g, was %g", types[k], i, y[i], x[i]);
                    b = N;
                    break;
                }
        }
    }
    CHECK(!quant_can_quantize(QUANT_Q4_1));
}
