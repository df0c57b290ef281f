/* test_safetensors.c: the safetensors reader on files written here, good and corrupted. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/safetensors.h"
#include "test.h"

/* Writes header JSON + data to a temporary file; header_len_override != 0 lies about its length. */
static const char *write_st(const char *header, const void *data, size_t n, uint64_t header_len_override) {
    static char path[] = "/tmp/ftune_test_st.safetensors";
    FILE *f = fopen(path, "wb");
    uint64_t hl = header_len_override ? header_len_override : strlen(header);
    fwrite(&hl, 8, 1, f);
    fwrite(header, 1, strlen(header), f);
    fwrite(data, 1, n, f);
    fclose(f);
    return path;
}

TEST(safetensors_reads_f32_f16_bf16) {
    unsigned char data[8 + 4 + 4];
    float f[2] = {1.5f, -2.0f};
    uint16_t h[2] = {0x3c00, 0xc000};  /* 1, -2 in fp16 */
    uint16_t b[2] = {0x3f80, 0x4040};  /* 1, 3 in bf16 */
    memcpy(data, f, 8), memcpy(data + 8, h, 4), memcpy(data + 12, b, 4);
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"b\":{\"dtype\":\"F16\",\"shape\":[1,2],\"data_offsets\":[8,12]},"
                      "\"c\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[12,16]}}";
    SafeTensors *st;
    Err err = {0};
    REQUIRE(st_open(write_st(hdr, data, sizeof data, 0), &st, &err) == 0);
    CHECK_EQ_INT(st_n_tensors(st), 3);
    float out[2];
    CHECK(st_tensor_to_f32(st_find(st, "a"), out, &err) == 0 && out[0] == 1.5f && out[1] == -2.0f);
    CHECK(st_tensor_to_f32(st_find(st, "b"), out, &err) == 0 && out[0] == 1.0f && out[1] == -2.0f);
    CHECK(st_tensor_to_f32(st_find(st, "c"), out, &err) == 0 && out[0] == 1.0f && out[1] == 3.0f);
    CHECK_EQ_INT(st_find(st, "b")->shape[1], 2);
    st_close(st);
}

static void expect_error(const char *hdr, size_t data_len, uint64_t hl, const char *needle) {
    unsigned char data[64] = {0};
    SafeTensors *st = NULL;
    Err err = {0};
    int rc = st_open(write_st(hdr, data, data_len, hl), &st, &err);
    CHECK(rc == -1);
    CHECK(st == NULL);
    if (!strstr(err.msg, needle) || !strstr(err.msg, "ftune_test_st"))
        test_fail(__FILE__, __LINE__, "error '%s' should mention '%s' and the file", err.msg, needle);
}

TEST(safetensors_rejects_corrupt_files) {
    expect_error("{}", 0, 1000, "runs past the end");
    expect_error("{not json", 0, 0, "not valid JSON");
    expect_error("[1,2]", 0, 0, "not a JSON object");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, 0, "outside the file");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16, 0, "do not match");
    expect_error("{\"a\":{\"dtype\":\"Q7\",\"shape\":[3],\"data_offsets\":[0,16]}}", 16, 0, "unknown dtype");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[-3],\"data_offsets\":[0,16]}}", 16, 0, "invalid shape");
    expect_error("{\"a\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[16,0]}}", 16, 0, "invalid data_offsets");
    expect_error("{\"a\":{\"shape\":[4]}}", 16, 0, "needs dtype");
}

TEST(safetensors_other_dtypes_are_refused_at_conversion) {
    unsigned char data[8] = {0};
    SafeTensors *st;
    Err err = {0};
    REQUIRE(st_open(write_st("{\"a\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", data, 8, 0), &st, &err) == 0);
    float out[1];
    CHECK(st_tensor_to_f32(st_find(st, "a"), out, &err) == -1);
    CHECK(strstr(err.msg, "I64") != NULL);
    st_close(st);
}
