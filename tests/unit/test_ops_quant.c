/* test_ops_quant.c: the quantized matvec kernels against their naive twin (dequantize, then a
 * double-precision dot product), and the dequantization against hand-computed block values. */
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "tensor/ops_quant.h"
#include "test.h"

TEST(quant_dequantize_hand_computed_blocks) {
    /* Q4_1 block: d = 0.5 (fp16 0x3800), m = -1 (0xbc00), byte j = (j % 16) | ((15 - j % 16) << 4) */
    unsigned char b[20] = {0x00, 0x38, 0x00, 0xbc};
    for (int j = 0; j < 16; j++) b[4 + j] = (unsigned char)(j | ((15 - j) << 4));
    float out[32];
    quant_dequantize(QUANT_Q4_1, b, 32, out);
    CHECK(out[0] == -1.0f);          /* 0.5 * 0 - 1 */
    CHECK(out[3] == 0.5f);           /* 0.5 * 3 - 1 */
    CHECK(out[16] == 6.5f);          /* 0.5 * 15 - 1 */
    CHECK(out[31] == -1.0f);         /* 0.5 * 0 - 1 */
    /* Q8_0 block: d = 2 (0x4000), q = -3 */
    unsigned char c[34] = {0x00, 0x40};
    memset(c + 2, 0xfd, 32);
    quant_dequantize(QUANT_Q8_0, c, 32, out);
    CHECK(out[0] == -6.0f && out[31] == -6.0f);
    /* Q4_0 block: d = 1, nibble 0 is -8 */
    unsigned char z[18] = {0x00, 0x3c};
    quant_dequantize(QUANT_Q4_0, z, 32, out);
    CHECK(out[5] == -8.0f);
}

TEST(quant_matvec_matches_ref) {
    Rng r;
    rng_seed(&r, 9);
    uint32_t types[3] = {QUANT_Q8_0, QUANT_Q4_0, QUANT_Q4_1};
    int rows = 37, cols = 96;
    for (int t = 0; t < 3; t++) {
        size_t bytes = (size_t)rows * (cols / 32) * quant_block_bytes(types[t]);
        unsigned char *data = malloc(bytes);
        for (size_t i = 0; i < bytes; i++) data[i] = (unsigned char)rng_next(&r);
        /* keep the fp16 scales finite and modest: d, m in [-1, 1) */
        size_t bb = quant_block_bytes(types[t]);
        for (size_t off = 0; off < bytes; off += bb) {
            data[off + 1] = (unsigned char)(0x30 | (data[off + 1] & 0x83));
            if (types[t] == QUANT_Q4_1) data[off + 3] = (unsigned char)(0x30 | (data[off + 3] & 0x83));
        }
        float x[96], bias[37], y[37], y_ref[37];
        for (int i = 0; i < cols; i++) x[i] = rng_uniform(&r) * 2 - 1;
        for (int i = 0; i < rows; i++) bias[i] = rng_uniform(&r);
        QuantMatrix w = {types[t], data, rows, cols};
        op_matvec_quant(y, x, &w, bias);
        op_matvec_quant_ref(y_ref, x, &w, bias);
        double mx = 0, ref = 1e-6;
        for (int i = 0; i < rows; i++) {
            mx = fmax(mx, fabs(y[i] - y_ref[i]));
            ref = fmax(ref, fabs(y_ref[i]));
        }
        if (mx > 1e-5 * ref) test_fail(__FILE__, __LINE__, "type %u: max diff %g (max |y| %g)", types[t], mx, ref);
        free(data);
    }
}
