/* info_gguf.c: `ftune info --gguf FILE`: a GGUF file's metadata and tensors as ftune's reader sees
 * them (model, adapter or any GGUF), one line each: a key with its type and value (arrays: element
 * type and length), a tensor with its type, GGML shape (ne, fastest first), the SHA-256 of its
 * stored bytes and the SHA-256 of its values dequantized to fp32 (little-endian), so that another
 * reader (PyPI gguf) can be compared with it exactly. */
#include <stdio.h>
#include <stdlib.h>

#include "../core/digest.h"
#include "../model/gguf.h"
#include "cli.h"
#include "info_gguf.h"

static void print_kv(const GgufKV *kv) {
    printf("kv %s %s ", kv->key, gguf_type_name(kv->type));
    switch (kv->type) {
    case GGUF_TYPE_STRING: printf("%zu bytes\n", (size_t)kv->str_len); break;
    case GGUF_TYPE_ARRAY: printf("%s[%llu]\n", gguf_type_name(kv->arr_type), (unsigned long long)kv->arr_len); break;
    case GGUF_TYPE_FLOAT32: case GGUF_TYPE_FLOAT64: printf("%.9g\n", kv->num.f); break;
    case GGUF_TYPE_INT8: case GGUF_TYPE_INT16: case GGUF_TYPE_INT32: case GGUF_TYPE_INT64:
        printf("%lld\n", (long long)kv->num.i);
        break;
    default: printf("%llu\n", (unsigned long long)kv->num.u); break;
    }
}

int info_gguf(const char *path) {
    Gguf *g;
    Err err = {0};
    if (gguf_open(path, &g, &err)) {
        fprintf(stderr, "ftune info: %s\n", err.msg);
        return EXIT_BAD_INPUT;
    }
    printf("gguf version %u, %d keys, %d tensors\n", gguf_version(g), gguf_n_kv(g), gguf_n_tensors(g));
    for (int i = 0; i < gguf_n_kv(g); i++) print_kv(gguf_kv(g, i));
    int rc = 0;
    for (int i = 0; i < gguf_n_tensors(g) && !rc; i++) {
        const GgufTensor *t = gguf_tensor(g, i);
        char raw[DIGEST_SHA256_HEX], values[DIGEST_SHA256_HEX];
        float *f = malloc(t->n_elements * sizeof(float));
        if (!f) {
            fprintf(stderr, "ftune info: out of memory\n");
            rc = 1;
            break;
        }
        if (gguf_tensor_to_f32(t, f, &err)) {
            fprintf(stderr, "ftune info: %s: %s\n", path, err.msg);
            rc = EXIT_BAD_INPUT;
        } else {
            digest_sha256_hex(t->data, t->nbytes, raw);
            digest_sha256_hex(f, t->n_elements * sizeof(float), values);
            printf("tensor %s %s", t->name, ggml_type_name(t->type));
            for (uint32_t d = 0; d < t->n_dims; d++) printf("%s%llu", d ? "," : " ", (unsigned long long)t->ne[d]);
            printf(" %s %s\n", raw, values);
        }
        free(f);
    }
    gguf_close(g);
    return rc;
}
