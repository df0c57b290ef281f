/* gguf.c: bounds-checked GGUF v2/v3 parser and tensor dequantization (see gguf.h). */
#include "gguf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../tensor/ops_quant.h"

struct Gguf {
    char *path;
    MappedFile file;
    uint32_t version;
    uint64_t alignment;
    int n_kv;
    GgufKV *kv;
    int n_tensors;
    GgufTensor *tensors;
};

typedef struct {
    const unsigned char *p;
    size_t size, pos;
    const char *path;
    Err *err;
} Reader;

static int rd_bytes(Reader *r, void *dst, size_t n, const char *what) {
    if (n > r->size - r->pos)
        return err_set(r->err, ERR_FORMAT, "%s: truncated file: %s at offset %zu runs past the end (%zu bytes)",
                       r->path, what, r->pos, r->size);
    if (dst) memcpy(dst, r->p + r->pos, n);
    r->pos += n;
    return 0;
}

static int rd_u32(Reader *r, uint32_t *v, const char *what) { return rd_bytes(r, v, 4, what); }
static int rd_u64(Reader *r, uint64_t *v, const char *what) { return rd_bytes(r, v, 8, what); }

/* Reads a GGUF string as a heap NUL-terminated copy. */
static int rd_str(Reader *r, char **out, uint64_t *len_out, const char *what) {
    uint64_t len = 0;
    if (rd_u64(r, &len, what)) return -1;
    if (len > GGUF_MAX_STRING || len > r->size - r->pos)
        return err_set(r->err, ERR_FORMAT, "%s: %s at offset %zu has length %llu past the end of the file",
                       r->path, what, r->pos, (unsigned long long)len);
    char *s = malloc(len + 1);
    if (!s) return err_set(r->err, ERR_NOMEM, "%s: out of memory", r->path);
    memcpy(s, r->p + r->pos, len);
    s[len] = 0;
    r->pos += len;
    *out = s;
    if (len_out) *len_out = len;
    return 0;
}

size_t gguf_type_size(GgufType t) {
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_INT8: case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16: case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32: case GGUF_TYPE_INT32: case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64: case GGUF_TYPE_INT64: case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

/* Reads one scalar of a numeric type into kv->num. */
static int rd_scalar(Reader *r, GgufType t, GgufKV *kv) {
    unsigned char b[8] = {0};
    size_t n = gguf_type_size(t);
    if (rd_bytes(r, b, n, "metadata value")) return -1;
    switch (t) {
    case GGUF_TYPE_UINT8: case GGUF_TYPE_BOOL: kv->num.u = b[0]; break;
    case GGUF_TYPE_INT8: kv->num.i = (int8_t)b[0]; break;
    case GGUF_TYPE_UINT16: { uint16_t v; memcpy(&v, b, 2); kv->num.u = v; break; }
    case GGUF_TYPE_INT16: { int16_t v; memcpy(&v, b, 2); kv->num.i = v; break; }
    case GGUF_TYPE_UINT32: { uint32_t v; memcpy(&v, b, 4); kv->num.u = v; break; }
    case GGUF_TYPE_INT32: { int32_t v; memcpy(&v, b, 4); kv->num.i = v; break; }
    case GGUF_TYPE_FLOAT32: { float v; memcpy(&v, b, 4); kv->num.f = v; break; }
    case GGUF_TYPE_UINT64: { uint64_t v; memcpy(&v, b, 8); kv->num.u = v; break; }
    case GGUF_TYPE_INT64: { int64_t v; memcpy(&v, b, 8); kv->num.i = v; break; }
    case GGUF_TYPE_FLOAT64: { double v; memcpy(&v, b, 8); kv->num.f = v; break; }
    default: break;
    }
    return 0;
}

/* Skips an array's elements (used for nested arrays, which are kept undecoded). */
static int skip_array(Reader *r, int depth) {
    uint32_t et = 0;
    uint64_t n = 0;
    if (depth > 8) return err_set(r->err, ERR_FORMAT, "%s: arrays nested too deeply", r->path);
    if (rd_u32(r, &et, "array type") || rd_u64(r, &n, "array length")) return -1;
    if (et >= GGUF_TYPE_COUNT) return err_set(r->err, ERR_FORMAT, "%s: unknown array element type %u", r->path, et);
    for (uint64_t i = 0; i < n; i++) {
        if (et == GGUF_TYPE_STRING) {
            uint64_t len = 0;
            if (rd_u64(r, &len, "string length") || rd_bytes(r, NULL, len, "string")) return -1;
        } else if (et == GGUF_TYPE_ARRAY) {
            if (skip_array(r, depth + 1)) return -1;
        } else {
            size_t es = gguf_type_size((GgufType)et);
            if (n > (r->size - r->pos) / es) return rd_bytes(r, NULL, r->size, "array data");
            return rd_bytes(r, NULL, n * es, "array data");
        }
    }
    return 0;
}

static int rd_value(Reader *r, GgufKV *kv) {
    if (kv->type == GGUF_TYPE_STRING) return rd_str(r, &kv->str, &kv->str_len, "string value");
    if (kv->type != GGUF_TYPE_ARRAY) return rd_scalar(r, kv->type, kv);
    uint32_t et = 0;
    if (rd_u32(r, &et, "array type") || rd_u64(r, &kv->arr_len, "array length")) return -1;
    if (et >= GGUF_TYPE_COUNT)
        return err_set(r->err, ERR_FORMAT, "%s: key '%s': unknown array element type %u", r->path, kv->key, et);
    if (kv->arr_len > GGUF_MAX_ARRAY)
        return err_set(r->err, ERR_FORMAT, "%s: key '%s': array of %llu elements is too long", r->path, kv->key,
                       (unsigned long long)kv->arr_len);
    kv->arr_type = (GgufType)et;
    if (et == GGUF_TYPE_STRING) {
        /* each string needs at least 8 bytes: reject impossible counts before allocating */
        if (kv->arr_len > (r->size - r->pos) / 8)
            return err_set(r->err, ERR_FORMAT, "%s: key '%s': array of %llu strings runs past the end of the file",
                           r->path, kv->key, (unsigned long long)kv->arr_len);
        kv->arr_str = calloc(kv->arr_len ? kv->arr_len : 1, sizeof(char *));
        kv->arr_str_len = calloc(kv->arr_len ? kv->arr_len : 1, sizeof(uint32_t));
        if (!kv->arr_str || !kv->arr_str_len) return err_set(r->err, ERR_NOMEM, "%s: out of memory", r->path);
        for (uint64_t i = 0; i < kv->arr_len; i++) {
            uint64_t len = 0;
            if (rd_str(r, &kv->arr_str[i], &len, "array string")) return -1;
            kv->arr_str_len[i] = (uint32_t)len;
        }
        return 0;
    }
    if (et == GGUF_TYPE_ARRAY) {
        kv->arr_data = r->p + r->pos;
        for (uint64_t i = 0; i < kv->arr_len; i++)
            if (skip_array(r, 1)) return -1;
        kv->arr_bytes = (uint64_t)(r->p + r->pos - kv->arr_data);
        return 0;
    }
    size_t es = gguf_type_size(kv->arr_type);
    if (kv->arr_len > (r->size - r->pos) / es)
        return err_set(r->err, ERR_FORMAT, "%s: key '%s': array data runs past the end of the file", r->path, kv->key);
    kv->arr_data = r->p + r->pos;
    kv->arr_bytes = kv->arr_len * es;
    r->pos += kv->arr_len * es;
    return 0;
}

/* Bytes taken by a tensor of n elements with rows of ne0 (a multiple of the type's block, as
 * GGML requires): -2 for an unknown type, -1 for a row that is not a whole number of blocks. */
static int tensor_nbytes(uint32_t type, uint64_t ne0, uint64_t n, uint64_t *out) {
    if (!quant_type_supported(type)) return -2;
    if (ne0 % quant_block_elems(type)) return -1;
    *out = n / quant_block_elems(type) * quant_block_bytes(type);
    return 0;
}

void gguf_close(Gguf *g) {
    if (!g) return;
    for (int i = 0; i < g->n_kv; i++) {
        GgufKV *kv = &g->kv[i];
        free(kv->key);
        free(kv->str);
        if (kv->arr_str)
            for (uint64_t j = 0; j < kv->arr_len; j++) free(kv->arr_str[j]);
        free(kv->arr_str);
        free(kv->arr_str_len);
    }
    free(g->kv);
    for (int i = 0; i < g->n_tensors; i++) free(g->tensors[i].name);
    free(g->tensors);
    file_unmap(&g->file);
    free(g->path);
    free(g);
}

static int parse(Gguf *g, Err *err) {
    Reader r = {g->file.data, g->file.size, 0, g->path, err};
    char magic[4];
    if (g->file.size < 4 || (rd_bytes(&r, magic, 4, "magic"), memcmp(magic, "GGUF", 4) != 0))
        return err_set(err, ERR_FORMAT, "%s: not a GGUF file (bad magic)", g->path);
    if (rd_u32(&r, &g->version, "version")) return -1;
    if (g->version != 2 && g->version != 3)
        return err_set(err, ERR_UNSUPPORTED, "%s: unsupported GGUF version %u (2 and 3 are supported)", g->path,
                       g->version);
    uint64_t n_tensors = 0, n_kv = 0;
    if (rd_u64(&r, &n_tensors, "tensor count") || rd_u64(&r, &n_kv, "metadata count")) return -1;
    /* every kv takes >= 12 bytes and every tensor info >= 24: reject impossible counts early */
    if (n_kv > g->file.size / 12 || n_tensors > g->file.size / 24)
        return err_set(err, ERR_FORMAT, "%s: header claims %llu keys and %llu tensors, more than the file can hold (truncated or corrupt)",
                       g->path, (unsigned long long)n_kv, (unsigned long long)n_tensors);
    g->kv = calloc(n_kv ? n_kv : 1, sizeof(GgufKV));
    g->tensors = calloc(n_tensors ? n_tensors : 1, sizeof(GgufTensor));
    if (!g->kv || !g->tensors) return err_set(err, ERR_NOMEM, "%s: out of memory", g->path);
    g->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < n_kv; i++) {
        GgufKV *kv = &g->kv[g->n_kv++];
        uint32_t t = 0;
        if (rd_str(&r, &kv->key, NULL, "metadata key") || rd_u32(&r, &t, "metadata type")) return -1;
        if (t >= GGUF_TYPE_COUNT)
            return err_set(err, ERR_FORMAT, "%s: key '%s' has unknown value type %u", g->path, kv->key, t);
        kv->type = (GgufType)t;
        if (rd_value(&r, kv)) return -1;
        if (strcmp(kv->key, "general.alignment") == 0) {
            if (kv->type != GGUF_TYPE_UINT32 || kv->num.u == 0 || (kv->num.u & (kv->num.u - 1)))
                return err_set(err, ERR_FORMAT, "%s: general.alignment must be a power of two", g->path);
            g->alignment = kv->num.u;
        }
    }
    for (uint64_t i = 0; i < n_tensors; i++) {
        GgufTensor *t = &g->tensors[g->n_tensors++];
        uint64_t offset = 0;
        if (rd_str(&r, &t->name, NULL, "tensor name") || rd_u32(&r, &t->n_dims, "tensor dims")) return -1;
        if (t->n_dims == 0 || t->n_dims > GGUF_MAX_DIMS)
            return err_set(err, ERR_FORMAT, "%s: tensor '%s' has %u dimensions (1 to %d allowed)", g->path, t->name,
                           t->n_dims, GGUF_MAX_DIMS);
        t->n_elements = 1;
        for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) t->ne[d] = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) {
            if (rd_u64(&r, &t->ne[d], "tensor shape")) return -1;
            if (t->ne[d] == 0 || t->ne[d] > (1ull << 40) / t->n_elements)
                return err_set(err, ERR_FORMAT, "%s: tensor '%s' has an invalid shape", g->path, t->name);
            t->n_elements *= t->ne[d];
        }
        if (rd_u32(&r, &t->type, "tensor type") || rd_u64(&r, &offset, "tensor offset")) return -1;
        int rc = tensor_nbytes(t->type, t->ne[0], t->n_elements, &t->nbytes);
        if (rc == -2)
            return err_set(err, ERR_UNSUPPORTED, "%s: tensor '%s' has unsupported type %u (%s)", g->path, t->name,
                           t->type, ggml_type_name(t->type));
        if (rc == -1)
            return err_set(err, ERR_FORMAT, "%s: tensor '%s' (%s): rows of %llu elements are not a multiple of its block size %zu",
                           g->path, t->name, ggml_type_name(t->type), (unsigned long long)t->ne[0],
                           quant_block_elems(t->type));
        t->data = (const unsigned char *)(uintptr_t)offset; /* relative until the data start is known */
    }
    size_t data_start = (r.pos + g->alignment - 1) / g->alignment * g->alignment;
    for (int i = 0; i < g->n_tensors; i++) {
        GgufTensor *t = &g->tensors[i];
        uint64_t offset = (uint64_t)(uintptr_t)t->data;
        if (offset % g->alignment)
            return err_set(err, ERR_FORMAT, "%s: tensor '%s' offset %llu is not aligned to %llu", g->path, t->name,
                           (unsigned long long)offset, (unsigned long long)g->alignment);
        if (data_start > g->file.size || offset > g->file.size - data_start ||
            t->nbytes > g->file.size - data_start - offset)
            return err_set(err, ERR_FORMAT, "%s: tensor '%s' (%llu bytes at offset %llu) lies outside the file (%zu bytes)",
                           g->path, t->name, (unsigned long long)t->nbytes, (unsigned long long)(data_start + offset),
                           g->file.size);
        t->data = g->file.data + data_start + offset;
    }
    return 0;
}

int gguf_open(const char *path, Gguf **out, Err *err) {
    *out = NULL;
    Gguf *g = calloc(1, sizeof *g);
    if (!g || !(g->path = strdup(path))) {
        free(g);
        return err_set(err, ERR_NOMEM, "%s: out of memory", path);
    }
    if (file_map(path, &g->file, err) || parse(g, err)) {
        gguf_close(g);
        return -1;
    }
    *out = g;
    return 0;
}

uint32_t gguf_version(const Gguf *g) { return g->version; }
const char *gguf_path(const Gguf *g) { return g->path; }
int gguf_n_kv(const Gguf *g) { return g->n_kv; }
const GgufKV *gguf_kv(const Gguf *g, int i) { return (i >= 0 && i < g->n_kv) ? &g->kv[i] : NULL; }
int gguf_n_tensors(const Gguf *g) { return g->n_tensors; }
const GgufTensor *gguf_tensor(const Gguf *g, int i) { return (i >= 0 && i < g->n_tensors) ? &g->tensors[i] : NULL; }

const GgufKV *gguf_find(const Gguf *g, const char *key) {
    for (int i = 0; i < g->n_kv; i++)
        if (strcmp(g->kv[i].key, key) == 0) return &g->kv[i];
    return NULL;
}

const GgufTensor *gguf_find_tensor(const Gguf *g, const char *name) {
    for (int i = 0; i < g->n_tensors; i++)
        if (strcmp(g->tensors[i].name, name) == 0) return &g->tensors[i];
    return NULL;
}

const char *gguf_get_str(const Gguf *g, const char *key, const char *dflt) {
    const GgufKV *kv = gguf_find(g, key);
    return (kv && kv->type == GGUF_TYPE_STRING) ? kv->str : dflt;
}

static int is_unsigned(GgufType t) {
    return t == GGUF_TYPE_UINT8 || t == GGUF_TYPE_UINT16 || t == GGUF_TYPE_UINT32 || t == GGUF_TYPE_UINT64 ||
           t == GGUF_TYPE_BOOL;
}
static int is_signed(GgufType t) {
    return t == GGUF_TYPE_INT8 || t == GGUF_TYPE_INT16 || t == GGUF_TYPE_INT32 || t == GGUF_TYPE_INT64;
}

/* A numeric value of type t (held in v->num) as an integer or a double; 0 if t is not numeric. */
static int64_t num_as_int(GgufType t, const GgufKV *v) {
    if (is_unsigned(t)) return (int64_t)v->num.u;
    if (is_signed(t)) return v->num.i;
    if (t == GGUF_TYPE_FLOAT32 || t == GGUF_TYPE_FLOAT64) return (int64_t)v->num.f;
    return 0;
}

static double num_as_double(GgufType t, const GgufKV *v) {
    if (t == GGUF_TYPE_FLOAT32 || t == GGUF_TYPE_FLOAT64) return v->num.f;
    if (is_unsigned(t)) return (double)v->num.u;
    if (is_signed(t)) return (double)v->num.i;
    return 0;
}

int64_t gguf_get_int(const Gguf *g, const char *key, int64_t dflt) {
    const GgufKV *kv = gguf_find(g, key);
    return kv && (is_unsigned(kv->type) || is_signed(kv->type)) ? num_as_int(kv->type, kv) : dflt;
}

double gguf_get_float(const Gguf *g, const char *key, double dflt) {
    const GgufKV *kv = gguf_find(g, key);
    return kv && gguf_type_size(kv->type) ? num_as_double(kv->type, kv) : dflt;
}

/* Element i of a numeric array into out->num; -1 if out of range or not numeric. */
static int arr_elem(const GgufKV *kv, uint64_t i, GgufKV *out) {
    size_t es = gguf_type_size(kv->arr_type);
    if (!kv->arr_data || i >= kv->arr_len || !es) return -1;
    Reader r = {kv->arr_data + i * es, es, 0, "", NULL};
    return rd_scalar(&r, kv->arr_type, out);
}

int64_t gguf_arr_int(const GgufKV *kv, uint64_t i) {
    GgufKV v = {0};
    return arr_elem(kv, i, &v) ? 0 : num_as_int(kv->arr_type, &v);
}

double gguf_arr_float(const GgufKV *kv, uint64_t i) {
    GgufKV v = {0};
    return arr_elem(kv, i, &v) ? 0 : num_as_double(kv->arr_type, &v);
}

const char *gguf_type_name(GgufType t) {
    static const char *names[] = {"uint8", "int8",   "uint16", "int16", "uint32", "int32",  "float32",
                                  "bool",  "string", "array",  "uint64", "int64", "float64"};
    return (unsigned)t < GGUF_TYPE_COUNT ? names[t] : "unknown";
}

const char *ggml_type_name(uint32_t t) {
    switch (t) {
    case GGML_TYPE_F32: return "F32";
    case GGML_TYPE_F16: return "F16";
    case GGML_TYPE_Q4_0: return "Q4_0";
    case GGML_TYPE_Q4_1: return "Q4_1";
    case GGML_TYPE_Q5_0: return "Q5_0";
    case GGML_TYPE_Q5_1: return "Q5_1";
    case GGML_TYPE_Q8_0: return "Q8_0";
    case 10: return "Q2_K";
    case 11: return "Q3_K";
    case GGML_TYPE_Q4_K: return "Q4_K";
    case GGML_TYPE_Q5_K: return "Q5_K";
    case GGML_TYPE_Q6_K: return "Q6_K";
    case GGML_TYPE_BF16: return "BF16";
    default: return "unknown";
    }
}

int gguf_tensor_to_f32(const GgufTensor *t, float *out, Err *err) {
    if (!quant_type_supported(t->type))
        return err_set(err, ERR_UNSUPPORTED, "tensor '%s': cannot dequantize type %s", t->name,
                       ggml_type_name(t->type));
    quant_dequantize(t->type, t->data, t->n_elements, out);
    return 0;
}
