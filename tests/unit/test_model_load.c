/* test_model_load.c: loading real models, and clear errors (never a crash) for corrupted copies of
 * a real GGUF file: bad magic, truncated header, tensor data past the end, unknown tensor type,
 * unknown architecture. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/fileio.h"
#include "model/model.h"
#include "test.h"

static unsigned char *read_file(const char *path, size_t *n) {
    char *buf;
    Err err = {0};
    if (file_read_all(path, 1u << 30, &buf, n, &err)) return NULL;
    return (unsigned char *)buf;
}

static const char *write_tmp(const unsigned char *data, size_t n) {
    static const char *path = "/tmp/ftune_test_corrupt.gguf";
    FILE *f = fopen(path, "wb");
    fwrite(data, 1, n, f);
    fclose(f);
    return path;
}

static unsigned char *find_bytes(unsigned char *hay, size_t n, const char *needle) {
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (memcmp(hay + i, needle, k) == 0) return hay + i;
    return NULL;
}

static void expect_load_error(const unsigned char *data, size_t n, const char *needle) {
    Model *m = NULL;
    Err err = {0};
    CHECK(model_load(write_tmp(data, n), &m, &err) == -1);
    CHECK(m == NULL);
    if (!strstr(err.msg, needle) || !strstr(err.msg, "ftune_test_corrupt.gguf"))
        test_fail(__FILE__, __LINE__, "error '%s' should name the file and say '%s'", err.msg, needle);
}

TEST(model_load_stories260k_config) {
    const char *p = test_model("models/stories260K/stories260K.gguf", "stories260K.gguf");
    if (!p) { test_skip("stories260K.gguf not available"); return; }
    Model *m;
    Err err = {0};
    REQUIRE(model_load(p, &m, &err) == 0);
    CHECK_EQ_INT(m->cfg.arch, ARCH_LLAMA);
    CHECK_EQ_INT(m->cfg.n_layer, 5);
    CHECK_EQ_INT(m->cfg.dim, 64);
    CHECK_EQ_INT(m->cfg.n_head, 8);
    CHECK_EQ_INT(m->cfg.n_kv_head, 4);
    CHECK_EQ_INT(m->cfg.head_dim, 8);
    CHECK_EQ_INT(m->cfg.ffn_dim, 172);
    CHECK_EQ_INT(m->cfg.vocab, 512);
    CHECK(!m->cfg.tied_embeddings);
    CHECK(!m->cfg.qkv_bias);
    model_free(m);
}

TEST(model_load_rejects_corrupted_gguf) {
    const char *p = test_model("models/stories260K/stories260K.gguf", "stories260K.gguf");
    if (!p) { test_skip("stories260K.gguf not available"); return; }
    size_t n;
    unsigned char *orig = read_file(p, &n), *buf = malloc(n);
    REQUIRE(orig && buf);

    memcpy(buf, orig, n);
    buf[0] = 'X';
    expect_load_error(buf, n, "bad magic");

    expect_load_error(orig, 1000, "truncated");
    expect_load_error(orig, 5000, "truncated file");
    expect_load_error(orig, 3, "bad magic");
    expect_load_error(orig, 0, "bad magic");
    expect_load_error(orig, n - 100, "outside the file");

    memcpy(buf, orig, n);
    unsigned char *arch = find_bytes(buf, n, "general.architecture");
    REQUIRE(arch);
    unsigned char *val = find_bytes(arch, 64, "llama");
    REQUIRE(val);
    memcpy(val, "mamba", 5);
    expect_load_error(buf, n, "unsupported architecture 'mamba'");

    memcpy(buf, orig, n);
    unsigned char *name = find_bytes(buf, n, "output_norm.weight");
    REQUIRE(name);
    unsigned char *type = name + strlen("output_norm.weight") + 4 + 8; /* n_dims u32, ne[0] u64 */
    uint32_t bad_type = 99;
    memcpy(type, &bad_type, 4);
    expect_load_error(buf, n, "unsupported type 99");

    memcpy(buf, orig, n);
    uint32_t bad_version = 7;
    memcpy(buf + 4, &bad_version, 4);
    expect_load_error(buf, n, "unsupported GGUF version 7");

    memcpy(buf, orig, n);
    uint64_t huge = 1ull << 60;
    memcpy(buf + 8, &huge, 8); /* tensor count */
    expect_load_error(buf, n, "more than the file can hold");
    free(orig);
    free(buf);
}

TEST(model_load_missing_path_is_an_error) {
    Model *m;
    Err err = {0};
    CHECK(model_load("/nonexistent/model.gguf", &m, &err) == -1);
    CHECK(strstr(err.msg, "/nonexistent/model.gguf") != NULL);
}

TEST(model_load_hf_without_tokenizer_config_takes_eos_from_config_json) {
    if (!file_is_dir("models/tiny-qwen2")) { test_skip("models/tiny-qwen2 not written"); return; }
    REQUIRE(system("rm -rf /tmp/ftune_tiny_notc && cp -r models/tiny-qwen2 /tmp/ftune_tiny_notc && "
                   "rm /tmp/ftune_tiny_notc/tokenizer_config.json") == 0);
    Model *m;
    Err err = {0};
    REQUIRE(model_load("/tmp/ftune_tiny_notc", &m, &err) == 0);
    CHECK_EQ_INT(tok_eos_id(m->tok), 558); /* config.json eos_token_id: <|im_end|> */
    CHECK_EQ_INT(tok_bos_id(m->tok), 556);
    CHECK_EQ_INT(chat_template_kind(m->tmpl), CHAT_TEMPLATE_PLAIN); /* no template without the config */
    model_free(m);
}
