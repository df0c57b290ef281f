/* gguf.h: reader for GGUF v2/v3 files (llama.cpp's model format).
 * Parses the header, every metadata key/value (all value types, arrays, nested arrays) and the
 * tensor table, with bounds checks on every read, over a read-only mapping of the file. Tensor
 * data stays in the mapping; gguf_tensor_to_f32 dequantizes one tensor (F32, F16, BF16, Q8_0,
 * Q4_0, Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K: the types of tensor/ops_quant.h). It does not
 * interpret the metadata (see model_load.c and the tokenizer). */
#ifndef FTUNE_GGUF_H
#define FTUNE_GGUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

typedef enum {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT
} GgufType;

typedef enum {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2, /* == QUANT_Q4_0 (tensor/ops_quant.h) */
    GGML_TYPE_Q4_1 = 3, /* == QUANT_Q4_1 */
    GGML_TYPE_Q5_0 = 6, /* == QUANT_Q5_0 */
    GGML_TYPE_Q5_1 = 7, /* == QUANT_Q5_1 */
    GGML_TYPE_Q8_0 = 8, /* == QUANT_Q8_0 */
    GGML_TYPE_Q4_K = 12, /* == QUANT_Q4_K */
    GGML_TYPE_Q5_K = 13, /* == QUANT_Q5_K */
    GGML_TYPE_Q6_K = 14, /* == QUANT_Q6_K */
    GGML_TYPE_BF16 = 30,
} GgmlType;

#define GGUF_MAX_DIMS 4
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_STRING (1u << 30)   /* longest accepted string, bytes */
#define GGUF_MAX_ARRAY (1ull << 32)  /* most elements accepted in one array */

typedef struct {
    char *key;          /* NUL-terminated copy */
    GgufType type;
    union {
        uint64_t u;     /* UINT8..UINT64 and BOOL */
        int64_t i;      /* INT8..INT64 */
        double f;       /* FLOAT32, FLOAT64 */
    } num;
    char *str;          /* STRING: NUL-terminated copy (str_len bytes; may contain NUL) */
    uint64_t str_len;
    GgufType arr_type;  /* ARRAY: element type */
    uint64_t arr_len;   /* ARRAY: number of elements */
    const unsigned char *arr_data; /* ARRAY of numbers or of arrays: raw little-endian elements in
                                    * the mapping (nested arrays as the file holds them) */
    uint64_t arr_bytes;            /* ARRAY of numbers or of arrays: bytes at arr_data */
    char **arr_str;     /* ARRAY of STRING: NUL-terminated copies */
    uint32_t *arr_str_len;
} GgufKV;

typedef struct {
    char *name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ne[0] is the fastest-varying dimension (a row's length) */
    uint32_t type;              /* a GgmlType */
    uint64_t n_elements;
    uint64_t nbytes;
    const unsigned char *data;  /* inside the mapping */
} GgufTensor;

typedef struct Gguf Gguf;

/* Opens and parses path. On failure returns -1 with err naming the file and the problem (bad
 * magic, unsupported version, truncated header, tensor data out of bounds, ...). The handle owns
 * the mapping; free with gguf_close. Read-only afterwards, so safe to share between threads. */
int gguf_open(const char *path, Gguf **out, Err *err);
void gguf_close(Gguf *g); /* NULL is a no-op */

uint32_t gguf_version(const Gguf *g);
const char *gguf_path(const Gguf *g);
int gguf_n_kv(const Gguf *g);
const GgufKV *gguf_kv(const Gguf *g, int i);
const GgufKV *gguf_find(const Gguf *g, const char *key); /* NULL if absent */

/* Typed getters with defaults (returned when the key is absent or of another kind). */
const char *gguf_get_str(const Gguf *g, const char *key, const char *dflt);
int64_t gguf_get_int(const Gguf *g, const char *key, int64_t dflt);   /* any integer or bool */
double gguf_get_float(const Gguf *g, const char *key, double dflt);   /* float or integer */
/* Numeric array element i as double / int64 (element type checked by caller via arr_type). */
double gguf_arr_float(const GgufKV *kv, uint64_t i);
int64_t gguf_arr_int(const GgufKV *kv, uint64_t i);

int gguf_n_tensors(const Gguf *g);
const GgufTensor *gguf_tensor(const Gguf *g, int i);
const GgufTensor *gguf_find_tensor(const Gguf *g, const char *name); /* NULL if absent */

const char *gguf_type_name(GgufType t);
size_t gguf_type_size(GgufType t); /* bytes of one numeric value or bool; 0 for STRING, ARRAY */
const char *ggml_type_name(uint32_t t); /* "Q4_1", ...; "unknown" otherwise */

/* Dequantizes t into out (t->n_elements floats). ERR_UNSUPPORTED for other tensor types. */
int gguf_tensor_to_f32(const GgufTensor *t, float *out, Err *err);

#endif
