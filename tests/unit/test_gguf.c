/* test_gguf.c: the GGUF reader on the real stories260K file and on corrupted copies. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"

#include "core/half.h"
#include "model/gguf.h"
#include "test.h"

TEST(gguf_reads_stories260k_metadata_and_tensors) {
    const char *p = test_model("models/stories260K/stories260K.gguf", "stories260K.gguf");
    if (!p) { test_skip("stories260K.gguf not available"); return; }
    Gguf *g = NULL;
    Err err = {0};
    REQUIRE(gguf_open(p, &g, &err) == 0);
    CHECK_EQ_INT(gguf_version(g), 3);
    CHECK_EQ_INT(gguf_n_tensors(g), 48);
    CHECK(strcmp(gguf_get_str(g, "general.architecture", ""), "llama") == 0);
    CHECK_EQ_INT(gguf_get_int(g, "llama.block_count", 0), 5);
    CHECK_EQ_INT(gguf_get_int(g, "llama.embedding_length", 0), 64);
    CHECK_NEAR(gguf_get_float(g, "llama.attention.layer_norm_rms_epsilon", 0), 1e-5, 1e-9);
    const GgufKV *tokens = gguf_find(g, "tokenizer.ggml.tokens");
    REQUIRE(tokens && tokens->type == GGUF_TYPE_ARRAY && tokens->arr_type == GGUF_TYPE_STRING);
    CHECK_EQ_INT(tokens->arr_len, 512);
    CHECK(strcmp(tokens->arr_str[1], "<s>") == 0);
    const GgufTensor *t = gguf_find_tensor(g, "blk.0.ffn_gate.weight");
    REQUIRE(t);
    CHECK_EQ_INT(t->ne[0], 64);
    CHECK_EQ_INT(t->ne[1], 172);
    float *w = malloc(t->n_elements * sizeof(float));
    CHECK(gguf_tensor_to_f32(t, w, &err) == 0);
    float first;
    memcpy(&first, t->data, 4);
    CHECK(w[0] == first);
    free(w);
    gguf_close(g);
}

TEST(gguf_fp16_conversion) {
    CHECK(fp16_to_f32(0x3c00) == 1.0f);
    CHECK(fp16_to_f32(0xc000) == -2.0f);
    CHECK(fp16_to_f32(0x0001) == 5.960464477539063e-08f); /* smallest subnormal */
    CHECK(fp16_to_f32(0x7bff) == 65504.0f);
    CHECK(bf16_to_f32(0x3f80) == 1.0f);
}

/* tests/golden/gguf/types.gguf is written by PyPI gguf (scripts/golden_gguf_types.py): every value
 * type, alignment 64, and one tensor per supported type with the values gguf itself dequantizes. */
TEST(gguf_reads_every_value_type_and_tensor_type_like_the_reference) {
    Gguf *g = NULL;
    Err err = {0};
    REQUIRE(gguf_open("tests/golden/gguf/types.gguf", &g, &err) == 0);
    CHECK_EQ_INT(gguf_get_int(g, "test.u8", 0), 200);
    CHECK_EQ_INT(gguf_get_int(g, "test.i8", 0), -100);
    CHECK_EQ_INT(gguf_get_int(g, "test.u16", 0), 60000);
    CHECK_EQ_INT(gguf_get_int(g, "test.i16", 0), -30000);
    CHECK_EQ_INT(gguf_get_int(g, "test.u32", 0), 4000000000ll);
    CHECK_EQ_INT(gguf_get_int(g, "test.i32", 0), -2000000000ll);
    CHECK_NEAR(gguf_get_float(g, "test.f32", 0), 1.5, 0);
    CHECK_EQ_INT(gguf_get_int(g, "test.bool", 0), 1);
    CHECK(strcmp(gguf_get_str(g, "test.string", ""), "h\xc3\xa9llo w\xc3\xb6rld \xe2\x9c\x93") == 0);
    CHECK(gguf_find(g, "test.u64")->num.u == (1ull << 63) + 5);
    CHECK_EQ_INT(gguf_get_int(g, "test.i64", 0), -(1ll << 62));
    CHECK_NEAR(gguf_get_float(g, "test.f64", 0), 2.718281828459045, 0);
    const GgufKV *a = gguf_find(g, "test.array_i32");
    REQUIRE(a && a->arr_type == GGUF_TYPE_INT32 && a->arr_len == 3);
    CHECK_EQ_INT(gguf_arr_int(a, 1), -2);
    a = gguf_find(g, "test.array_str");
    REQUIRE(a && a->arr_type == GGUF_TYPE_STRING && a->arr_len == 3);
    CHECK(strcmp(a->arr_str[0], "a") == 0 && a->arr_str[1][0] == 0 && strcmp(a->arr_str[2], "ccc") == 0);
    a = gguf_find(g, "test.array_f32");
    REQUIRE(a && a->arr_len == 2);
    CHECK_NEAR(gguf_arr_float(a, 1), -0.25, 0);
    a = gguf_find(g, "test.array_nested");
    REQUIRE(a && a->arr_type == GGUF_TYPE_ARRAY && a->arr_len == 2);
    a = gguf_find(g, "test.array_u8");
    REQUIRE(a && a->arr_type == GGUF_TYPE_UINT8);
    CHECK_EQ_INT(gguf_arr_int(a, 2), 255);

    json_error_t je;
    json_t *expected = json_load_file("tests/golden/gguf/types.json", 0, &je);
    REQUIRE(expected);
    const char *name;
    json_t *e;
    int n_tensors = 0;
    json_object_foreach(expected, name, e) {
        const GgufTensor *t = gguf_find_tensor(g, name);
        REQUIRE(t);
        CHECK((uintptr_t)(t->data - (const unsigned char *)gguf_tensor(g, 0)->data) % 64 == 0);
        json_t *vals = json_object_get(e, "values");
        REQUIRE(t->n_elements == json_array_size(vals));
        float *out = malloc(t->n_elements * sizeof(float));
        CHECK(gguf_tensor_to_f32(t, out, &err) == 0);
        for (size_t i = 0; i < t->n_elements; i++)
            if (out[i] != (float)json_real_value(json_array_get(vals, i))) {
                test_fail(__FILE__, __LINE__, "tensor %s [%zu]: %g, reference %g", name, i, out[i],
                          json_real_value(json_array_get(vals, i)));
                break;
            }
        free(out);
        n_tensors++;
    }
    CHECK_EQ_INT(n_tensors, 6);
    json_decref(expected);
    gguf_close(g);
}

TEST(gguf_version_2_header_is_read) {
    char *buf;
    size_t n;
    Err err = {0};
    REQUIRE(file_read_all("tests/golden/gguf/types.gguf", 1 << 20, &buf, &n, &err) == 0);
    uint32_t v2 = 2;
    memcpy(buf + 4, &v2, 4); /* v2 and v3 share the layout (v3 added big-endian files) */
    FILE *f = fopen("/tmp/ftune_test_v2.gguf", "wb");
    fwrite(buf, 1, n, f);
    fclose(f);
    free(buf);
    Gguf *g;
    REQUIRE(gguf_open("/tmp/ftune_test_v2.gguf", &g, &err) == 0);
    CHECK_EQ_INT(gguf_version(g), 2);
    CHECK_EQ_INT(gguf_n_tensors(g), 6);
    gguf_close(g);
}

/* A GGUF v3 file with no metadata and one tensor (type, ne0 x ne1) whose data are the first
 * data_len bytes of data (fewer than the type needs, to make a truncated file). */
static void write_one_tensor_gguf(const char *path, uint32_t type, uint64_t ne0, uint64_t ne1,
                                  const void *data, size_t data_len) {
    FILE *f = fopen(path, "wb");
    uint32_t v = 3, n_dims = 2;
    uint64_t n_tensors = 1, n_kv = 0, name_len = 1, ne[2] = {ne0, ne1}, offset = 0;
    fwrite("GGUF", 1, 4, f);
    fwrite(&v, 4, 1, f);
    fwrite(&n_tensors, 8, 1, f);
    fwrite(&n_kv, 8, 1, f);
    fwrite(&name_len, 8, 1, f);
    fwrite("w", 1, 1, f);
    fwrite(&n_dims, 4, 1, f);
    fwrite(ne, 8, 2, f);
    fwrite(&type, 4, 1, f);
    fwrite(&offset, 8, 1, f);
    static const char pad[32];
    fwrite(pad, 1, (32 - ftell(f) % 32) % 32, f);
    fwrite(data, 1, data_len, f);
    fclose(f);
}

/* Q5_0, Q5_1 and the K-quants: a tensor of each (the blocks of tests/golden/quant, 8 rows) reads
 * back as gguf's values; a row that is not whole blocks and missing data are refused clearly. */
TEST(gguf_reads_q5_and_k_quant_tensors_and_refuses_bad_sizes) {
    static const struct { const char *name; uint32_t type; uint64_t row; } types[] = {
        {"Q5_0", GGML_TYPE_Q5_0, 256}, {"Q5_1", GGML_TYPE_Q5_1, 256}, {"Q4_K", GGML_TYPE_Q4_K, 256},
        {"Q5_K", GGML_TYPE_Q5_K, 256}, {"Q6_K", GGML_TYPE_Q6_K, 256}};
    const char *path = "/tmp/ftune_test_ktypes.gguf";
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char golden[128], *buf;
        size_t len;
        Err err = {0};
        snprintf(golden, sizeof golden, "tests/golden/quant/%s.bin", types[i].name);
        REQUIRE(file_read_all(golden, 1 << 20, &buf, &len, &err) == 0);
        uint32_t hdr[5];
        memcpy(hdr, buf, 20);
        uint32_t n = hdr[3], nbytes = hdr[4];
        REQUIRE(hdr[2] == types[i].type && n == 8 * types[i].row);
        write_one_tensor_gguf(path, types[i].type, types[i].row, n / types[i].row, buf + 20, nbytes);
        Gguf *g = NULL;
        REQUIRE(gguf_open(path, &g, &err) == 0);
        const GgufTensor *t = gguf_find_tensor(g, "w");
        REQUIRE(t && t->nbytes == nbytes);
        float *out = malloc(n * sizeof(float));
        CHECK(gguf_tensor_to_f32(t, out, &err) == 0);
        if (memcmp(out, buf + 20 + nbytes, n * sizeof(float)) != 0) test_fail(__FILE__, __LINE__, "%s values differ", types[i].name);
        free(out);
        gguf_close(g);

        /* half a block per row (the element count alone would still be whole blocks) */
        write_one_tensor_gguf(path, types[i].type, types[i].row / 2 + (types[i].type < 10 ? 16 : 0), 2, buf + 20, nbytes);
        g = NULL;
        CHECK(gguf_open(path, &g, &err) == -1 && g == NULL);
        CHECK_EQ_INT(err.code, ERR_FORMAT);
        CHECK(strstr(err.msg, "not a multiple of its block size") && strstr(err.msg, types[i].name));

        /* the data stop short of the tensor's size */
        write_one_tensor_gguf(path, types[i].type, types[i].row, n / types[i].row, buf + 20, nbytes - 1);
        err = (Err){0};
        CHECK(gguf_open(path, &g, &err) == -1);
        CHECK(strstr(err.msg, "lies outside the file") != NULL);
        free(buf);
    }
}
