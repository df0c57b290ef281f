/* test_gguf_write.c: the GGUF writer. Copying every key and tensor of the golden file PyPI gguf
 * wrote (tests/golden/gguf/types.gguf: every value type, nested arrays, alignment 64) gives the same
 * bytes; a file built key by key reads back through gguf.c with the same values; bad tensors and
 * repeated names are refused. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/fileio.h"
#include "model/gguf.h"
#include "model/gguf_write.h"
#include "tensor/ops_quant.h"
#include "test.h"

static void tmp_path(char *buf, size_t cap, const char *name) {
    snprintf(buf, cap, "/tmp/ftune_test_gguf_write_%d_%s", (int)getpid(), name);
}

TEST(gguf_writer_copy_of_reference_file_is_byte_identical) {
    Gguf *g = NULL;
    GgufWriter *w = NULL;
    Err err = {0};
    REQUIRE(gguf_open(test_path("tests/golden/gguf/types.gguf"), &g, &err) == 0);
    REQUIRE(gguf_writer_new(&w, &err) == 0);
    for (int i = 0; i < gguf_n_kv(g); i++) REQUIRE(gguf_writer_copy_kv(w, gguf_kv(g, i), &err) == 0);
    for (int i = 0; i < gguf_n_tensors(g); i++) {
        const GgufTensor *t = gguf_tensor(g, i);
        REQUIRE(gguf_writer_add_tensor(w, t->name, t->type, t->n_dims, t->ne, t->data, t->nbytes, false, &err) == 0);
    }
    char out[256];
    tmp_path(out, sizeof out, "copy.gguf");
    REQUIRE(gguf_writer_write(w, out, &err) == 0);
    char *a, *b;
    size_t la, lb;
    REQUIRE(file_read_all(test_path("tests/golden/gguf/types.gguf"), 1 << 20, &a, &la, &err) == 0);
    REQUIRE(file_read_all(out, 1 << 20, &b, &lb, &err) == 0);
    CHECK_EQ_INT(la, lb);
    CHECK(la == lb && memcmp(a, b, la) == 0);
    free(a);
    free(b);
    unlink(out);
    gguf_writer_free(w);
    gguf_close(g);
}

TEST(gguf_writer_values_read_back) {
    GgufWriter *w = NULL;
    Err err = {0};
    REQUIRE(gguf_writer_new(&w, &err) == 0);
    int8_t i8 = -5;
    uint64_t u64 = 1ull << 40;
    double f64 = -0.125;
    uint8_t yes = 1;
    REQUIRE(gguf_writer_add_str(w, "general.architecture", "llama", &err) == 0);
    REQUIRE(gguf_writer_add_scalar(w, "t.i8", GGUF_TYPE_INT8, &i8, &err) == 0);
    REQUIRE(gguf_writer_add_scalar(w, "t.u64", GGUF_TYPE_UINT64, &u64, &err) == 0);
    REQUIRE(gguf_writer_add_scalar(w, "t.f64", GGUF_TYPE_FLOAT64, &f64, &err) == 0);
    REQUIRE(gguf_writer_add_scalar(w, "t.bool", GGUF_TYPE_BOOL, &yes, &err) == 0);
    REQUIRE(gguf_writer_add_f32(w, "t.f32", 2.5f, &err) == 0);
    REQUIRE(gguf_writer_add_str_n(w, "t.nul", "a\0b", 3, &err) == 0);
    int32_t ints[3] = {7, -8, 9};
    REQUIRE(gguf_writer_add_array(w, "t.ints", GGUF_TYPE_INT32, ints, 3, &err) == 0);
    const char *strs[] = {"x", "", "yz"};
    REQUIRE(gguf_writer_add_str_array(w, "t.strs", strs, NULL, 3, &err) == 0);
    CHECK(gguf_writer_add_u32(w, "t.i8", 1, &err) == -1 && strstr(err.msg, "added twice"));
    CHECK(gguf_writer_set_alignment(w, 48, &err) == -1);
    REQUIRE(gguf_writer_set_alignment(w, 128, &err) == 0);
    float v[64];
    for (int i = 0; i < 64; i++) v[i] = (float)i - 10.5f;
    uint64_t ne[2] = {32, 2};
    REQUIRE(gguf_writer_add_tensor(w, "m", QUANT_F32, 2, ne, v, sizeof v, false, &err) == 0);
    REQUIRE(gguf_writer_add_tensor(w, "v", QUANT_F32, 1, (uint64_t[]){3}, v, 12, false, &err) == 0);
    CHECK(gguf_writer_add_tensor(w, "m", QUANT_F32, 1, (uint64_t[]){3}, v, 12, false, &err) == -1);
    CHECK(gguf_writer_add_tensor(w, "short", QUANT_F32, 1, (uint64_t[]){4}, v, 12, false, &err) == -1 &&
          strstr(err.msg, "12 bytes"));
    CHECK(gguf_writer_add_tensor(w, "q", QUANT_Q8_0, 1, (uint64_t[]){20}, v, 34, false, &err) == -1);
    char out[256];
    tmp_path(out, sizeof out, "kv.gguf");
    REQUIRE(gguf_writer_write(w, out, &err) == 0);
    gguf_writer_free(w);
    Gguf *g = NULL;
    REQUIRE(gguf_open(out, &g, &err) == 0);
    CHECK_EQ_INT(gguf_version(g), 3);
    CHECK(strcmp(gguf_get_str(g, "general.architecture", ""), "llama") == 0);
    CHECK_EQ_INT(gguf_get_int(g, "t.i8", 0), -5);
    CHECK(gguf_find(g, "t.u64")->num.u == 1ull << 40);
    CHECK(gguf_get_float(g, "t.f64", 0) == -0.125);
    CHECK(gguf_get_float(g, "t.f32", 0) == 2.5);
    CHECK_EQ_INT(gguf_get_int(g, "t.bool", 0), 1);
    CHECK(gguf_find(g, "t.nul")->str_len == 3);
    const GgufKV *a = gguf_find(g, "t.ints");
    REQUIRE(a && a->arr_type == GGUF_TYPE_INT32 && a->arr_len == 3);
    CHECK_EQ_INT(gguf_arr_int(a, 1), -8);
    const GgufKV *s = gguf_find(g, "t.strs");
    REQUIRE(s && s->arr_type == GGUF_TYPE_STRING && s->arr_len == 3);
    CHECK(strcmp(s->arr_str[2], "yz") == 0 && s->arr_str_len[1] == 0);
    CHECK_EQ_INT(gguf_get_int(g, "general.alignment", 0), 128);
    const GgufTensor *m = gguf_find_tensor(g, "m"), *vt = gguf_find_tensor(g, "v");
    REQUIRE(m && vt);
    CHECK(m->ne[0] == 32 && m->ne[1] == 2 && memcmp(m->data, v, sizeof v) == 0);
    CHECK((vt->data - m->data) % 128 == 0 && memcmp(vt->data, v, 12) == 0);
    gguf_close(g);
    unlink(out);
}

/* A lazy tensor's producer writes n floats counting from *start. */
typedef struct {
    float start;
    int n;
} Counter;

static int produce_counter(void *ctx, GgufSink *sink, Err *err) {
    (void)err;
    const Counter *c = ctx;
    for (int i = 0; i < c->n; i++) {
        float v = c->start + (float)i;
        gguf_sink_write(sink, &v, sizeof v);
    }
    return 0;
}

TEST(gguf_writer_lazy_tensors_are_produced_at_write) {
    GgufWriter *w;
    Err err = {0};
    REQUIRE(gguf_writer_new(&w, &err) == 0);
    Counter good = {5.0f, 32}, short_one = {0.0f, 31};
    REQUIRE(gguf_writer_add_tensor_lazy(w, "lazy", QUANT_F32, 1, (uint64_t[]){32}, produce_counter, &good, &err) == 0);
    char out[256];
    tmp_path(out, sizeof out, "lazy.gguf");
    REQUIRE(gguf_writer_write(w, out, &err) == 0);
    Gguf *g;
    REQUIRE(gguf_open(out, &g, &err) == 0);
    const GgufTensor *t = gguf_find_tensor(g, "lazy");
    REQUIRE(t && t->nbytes == 128);
    float v[32];
    memcpy(v, t->data, sizeof v);
    CHECK(v[0] == 5.0f && v[31] == 36.0f);
    gguf_close(g);
    /* a producer that writes too few bytes fails the write, and the old file stays */
    REQUIRE(gguf_writer_add_tensor_lazy(w, "short", QUANT_F32, 1, (uint64_t[]){32}, produce_counter, &short_one,
                                        &err) == 0);
    CHECK(gguf_writer_write(w, out, &err) == -1 && strstr(err.msg, "124 bytes produced, 128 expected"));
    REQUIRE(gguf_open(out, &g, &err) == 0);
    CHECK_EQ_INT(gguf_n_tensors(g), 1);
    gguf_close(g);
    gguf_writer_free(w);
    unlink(out);
}
