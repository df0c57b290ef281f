/* gguf_write.c: the GGUF v3 writer (see gguf_write.h). Metadata is serialised into one growing
 * buffer as keys are added; tensors keep their data until gguf_writer_write lays out the file:
 * header, metadata, tensor infos, padding to the alignment, then each tensor's data padded to
 * the alignment. */
#include "gguf_write.h"

#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "../tensor/ops_quant.h"

typedef struct {
    char *name;
    uint32_t type, n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    unsigned char *data; /* NULL for a lazy tensor */
    size_t nbytes;
    GgufProduce produce; /* a lazy tensor's producer */
    void *ctx;
} WTensor;

struct GgufSink {
    AtomicFile *af;
    size_t written;
};

void gguf_sink_write(GgufSink *sink, const void *data, size_t n) {
    file_atomic_write(sink->af, data, n);
    sink->written += n;
}

struct GgufWriter {
    unsigned char *meta; /* serialised key/values */
    size_t meta_len, meta_cap;
    char **keys;
    uint64_t n_kv;
    size_t keys_cap;
    WTensor *tensors;
    int n_tensors, tensors_cap;
    uint32_t alignment;
    bool failed; /* an allocation failed while serialising: reported by the next call */
};

int gguf_writer_new(GgufWriter **out, Err *err) {
    *out = calloc(1, sizeof **out);
    if (!*out) return err_set(err, ERR_NOMEM, "out of memory");
    (*out)->alignment = GGUF_DEFAULT_ALIGNMENT;
    return 0;
}

void gguf_writer_free(GgufWriter *w) {
    if (!w) return;
    for (uint64_t i = 0; i < w->n_kv; i++) free(w->keys[i]);
    free(w->keys);
    for (int i = 0; i < w->n_tensors; i++) {
        free(w->tensors[i].name);
        free(w->tensors[i].data);
    }
    free(w->tensors);
    free(w->meta);
    free(w);
}

static void put(GgufWriter *w, const void *p, size_t n) {
    if (w->failed) return;
    if (w->meta_len + n > w->meta_cap) {
        size_t cap = w->meta_cap ? w->meta_cap : 4096;
        while (cap < w->meta_len + n) cap *= 2;
        unsigned char *m = realloc(w->meta, cap);
        if (!m) {
            w->failed = true;
            return;
        }
        w->meta = m;
        w->meta_cap = cap;
    }
    memcpy(w->meta + w->meta_len, p, n);
    w->meta_len += n;
}

static void put_u32(GgufWriter *w, uint32_t v) { put(w, &v, 4); }
static void put_u64(GgufWriter *w, uint64_t v) { put(w, &v, 8); }
static void put_str(GgufWriter *w, const char *s, uint64_t len) {
    put_u64(w, len);
    put(w, s, len);
}

bool gguf_writer_has_key(const GgufWriter *w, const char *key) {
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (strcmp(w->keys[i], key) == 0) return true;
    return false;
}

/* Records key and writes its name and value type; the caller writes the value. */
static int begin_kv(GgufWriter *w, const char *key, GgufType type, Err *err) {
    if (!key || !key[0]) return err_set(err, ERR_ARG, "GGUF writer: an empty metadata key");
    if (gguf_writer_has_key(w, key)) return err_set(err, ERR_ARG, "GGUF writer: metadata key '%s' added twice", key);
    if (w->n_kv == w->keys_cap) {
        size_t cap = w->keys_cap ? w->keys_cap * 2 : 64;
        char **k = realloc(w->keys, cap * sizeof *k);
        if (!k) return err_set(err, ERR_NOMEM, "out of memory");
        w->keys = k;
        w->keys_cap = cap;
    }
    if (!(w->keys[w->n_kv] = strdup(key))) return err_set(err, ERR_NOMEM, "out of memory");
    w->n_kv++;
    put_str(w, key, strlen(key));
    put_u32(w, (uint32_t)type);
    return 0;
}

static int end_kv(GgufWriter *w, Err *err) {
    return w->failed ? err_set(err, ERR_NOMEM, "out of memory") : 0;
}

int gguf_writer_set_alignment(GgufWriter *w, uint32_t alignment, Err *err) {
    if (alignment == 0 || (alignment & (alignment - 1)))
        return err_set(err, ERR_ARG, "GGUF writer: alignment %u is not a power of two", alignment);
    if (begin_kv(w, "general.alignment", GGUF_TYPE_UINT32, err)) return -1;
    put_u32(w, alignment);
    w->alignment = alignment;
    return end_kv(w, err);
}

int gguf_writer_add_scalar(GgufWriter *w, const char *key, GgufType type, const void *value, Err *err) {
    size_t n = gguf_type_size(type);
    if (!n) return err_set(err, ERR_ARG, "GGUF writer: key '%s': %s is not a scalar type", key, gguf_type_name(type));
    if (type == GGUF_TYPE_UINT32 && strcmp(key, "general.alignment") == 0)
        return gguf_writer_set_alignment(w, *(const uint32_t *)value, err);
    if (begin_kv(w, key, type, err)) return -1;
    put(w, value, n);
    return end_kv(w, err);
}

int gguf_writer_add_u32(GgufWriter *w, const char *key, uint32_t v, Err *err) {
    return gguf_writer_add_scalar(w, key, GGUF_TYPE_UINT32, &v, err);
}

int gguf_writer_add_f32(GgufWriter *w, const char *key, float v, Err *err) {
    return gguf_writer_add_scalar(w, key, GGUF_TYPE_FLOAT32, &v, err);
}

int gguf_writer_add_str_n(GgufWriter *w, const char *key, const char *s, uint64_t len, Err *err) {
    if (begin_kv(w, key, GGUF_TYPE_STRING, err)) return -1;
    put_str(w, s, len);
    return end_kv(w, err);
}

int gguf_writer_add_str(GgufWriter *w, const char *key, const char *s, Err *err) {
    return gguf_writer_add_str_n(w, key, s, strlen(s), err);
}

int gguf_writer_add_array(GgufWriter *w, const char *key, GgufType elem_type, const void *data, uint64_t n, Err *err) {
    size_t es = gguf_type_size(elem_type);
    if (!es)
        return err_set(err, ERR_ARG, "GGUF writer: key '%s': arrays of %s need gguf_writer_add_str_array", key,
                       gguf_type_name(elem_type));
    if (begin_kv(w, key, GGUF_TYPE_ARRAY, err)) return -1;
    put_u32(w, (uint32_t)elem_type);
    put_u64(w, n);
    put(w, data, (size_t)n * es);
    return end_kv(w, err);
}

int gguf_writer_add_str_array(GgufWriter *w, const char *key, const char *const *strs, const uint32_t *lens,
                              uint64_t n, Err *err) {
    if (begin_kv(w, key, GGUF_TYPE_ARRAY, err)) return -1;
    put_u32(w, GGUF_TYPE_STRING);
    put_u64(w, n);
    for (uint64_t i = 0; i < n; i++) put_str(w, strs[i], lens ? lens[i] : strlen(strs[i]));
    return end_kv(w, err);
}

int gguf_writer_copy_kv(GgufWriter *w, const GgufKV *kv, Err *err) {
    if (kv->type == GGUF_TYPE_STRING) return gguf_writer_add_str_n(w, kv->key, kv->str, kv->str_len, err);
    if (kv->type != GGUF_TYPE_ARRAY) {
        /* the reader widened the value: narrow it back to its own type (little-endian; the low
         * bytes of a widened integer are its own, sign extension aside) */
        unsigned char b[8];
        float f = (float)kv->num.f;
        if (kv->type == GGUF_TYPE_FLOAT32) memcpy(b, &f, 4);
        else memcpy(b, &kv->num, 8);
        return gguf_writer_add_scalar(w, kv->key, kv->type, b, err);
    }
    if (kv->arr_type == GGUF_TYPE_STRING)
        return gguf_writer_add_str_array(w, kv->key, (const char *const *)kv->arr_str, kv->arr_str_len, kv->arr_len,
                                         err);
    if (begin_kv(w, kv->key, GGUF_TYPE_ARRAY, err)) return -1;
    put_u32(w, (uint32_t)kv->arr_type);
    put_u64(w, kv->arr_len);
    put(w, kv->arr_data, kv->arr_bytes);
    return end_kv(w, err);
}

/* Checks a new tensor and makes room for it: its byte size in *nbytes, or -1 with err. */
static int check_tensor(GgufWriter *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne,
                        size_t *nbytes, Err *err) {
    if (n_dims == 0 || n_dims > GGUF_MAX_DIMS)
        return err_set(err, ERR_ARG, "GGUF writer: tensor '%s' has %u dimensions (1 to %d)", name, n_dims, GGUF_MAX_DIMS);
    if (!quant_type_supported(type) || ne[0] % quant_block_elems(type))
        return err_set(err, ERR_ARG, "GGUF writer: tensor '%s': type %s cannot hold rows of %llu values", name,
                       ggml_type_name(type), (unsigned long long)ne[0]);
    uint64_t rows = 1;
    for (uint32_t d = 1; d < n_dims; d++) rows *= ne[d];
    *nbytes = quant_row_bytes(type, ne[0]) * rows;
    for (int i = 0; i < w->n_tensors; i++)
        if (strcmp(w->tensors[i].name, name) == 0) return err_set(err, ERR_ARG, "GGUF writer: tensor '%s' added twice", name);
    if (w->n_tensors == w->tensors_cap) {
        int cap = w->tensors_cap ? w->tensors_cap * 2 : 64;
        WTensor *t = realloc(w->tensors, (size_t)cap * sizeof *t);
        if (!t) return err_set(err, ERR_NOMEM, "out of memory");
        w->tensors = t;
        w->tensors_cap = cap;
    }
    return 0;
}

/* Appends the checked tensor (data owned, or NULL with a producer). */
static int push_tensor(GgufWriter *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne,
                       unsigned char *data, size_t nbytes, GgufProduce produce, void *ctx, Err *err) {
    WTensor *t = &w->tensors[w->n_tensors];
    *t = (WTensor){strdup(name), type, n_dims, {1, 1, 1, 1}, data, nbytes, produce, ctx};
    if (!t->name) {
        free(data);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    for (uint32_t d = 0; d < n_dims; d++) t->ne[d] = ne[d];
    w->n_tensors++;
    return 0;
}

int gguf_writer_add_tensor(GgufWriter *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne,
                           const void *data, size_t nbytes, bool own, Err *err) {
    unsigned char *owned = own ? (unsigned char *)data : NULL;
    size_t want = 0;
    int rc = check_tensor(w, name, type, n_dims, ne, &want, err);
    if (!rc && want != nbytes)
        rc = err_set(err, ERR_ARG, "GGUF writer: tensor '%s': %zu bytes of data for %zu bytes of %s values", name, nbytes,
                     want, ggml_type_name(type));
    if (!rc && !owned && !(owned = malloc(nbytes ? nbytes : 1))) rc = err_set(err, ERR_NOMEM, "out of memory");
    if (rc) {
        if (own) free(owned);
        return -1;
    }
    if (!own) memcpy(owned, data, nbytes);
    return push_tensor(w, name, type, n_dims, ne, owned, nbytes, NULL, NULL, err);
}

int gguf_writer_add_tensor_lazy(GgufWriter *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne,
                                GgufProduce produce, void *ctx, Err *err) {
    size_t nbytes = 0;
    if (check_tensor(w, name, type, n_dims, ne, &nbytes, err)) return -1;
    return push_tensor(w, name, type, n_dims, ne, NULL, nbytes, produce, ctx, err);
}

static size_t pad_to(size_t n, size_t align) { return (n + align - 1) / align * align; }

int gguf_writer_write(GgufWriter *w, const char *path, Err *err) {
    if (w->failed) return err_set(err, ERR_NOMEM, "out of memory");
    AtomicFile af;
    if (file_atomic_open(&af, path, err)) return -1;
    static const unsigned char zeros[256];
    uint32_t version = 3;
    uint64_t n_tensors = (uint64_t)w->n_tensors;
    size_t pos = 0;
    file_atomic_write(&af, "GGUF", 4);
    file_atomic_write(&af, &version, 4);
    file_atomic_write(&af, &n_tensors, 8);
    file_atomic_write(&af, &w->n_kv, 8);
    file_atomic_write(&af, w->meta, w->meta_len);
    pos = 24 + w->meta_len;
    uint64_t offset = 0;
    for (int i = 0; i < w->n_tensors; i++) {
        const WTensor *t = &w->tensors[i];
        uint64_t len = strlen(t->name);
        file_atomic_write(&af, &len, 8);
        file_atomic_write(&af, t->name, len);
        file_atomic_write(&af, &t->n_dims, 4);
        file_atomic_write(&af, t->ne, 8 * (size_t)t->n_dims);
        file_atomic_write(&af, &t->type, 4);
        file_atomic_write(&af, &offset, 8);
        pos += 8 + len + 4 + 8 * (size_t)t->n_dims + 4 + 8;
        offset += pad_to(t->nbytes, w->alignment);
    }
    for (size_t pad = pad_to(pos, w->alignment) - pos; pad; pad -= pad > 256 ? 256 : pad)
        file_atomic_write(&af, zeros, pad > 256 ? 256 : pad);
    for (int i = 0; i < w->n_tensors; i++) {
        const WTensor *t = &w->tensors[i];
        if (t->produce) {
            GgufSink sink = {&af, 0};
            if (t->produce(t->ctx, &sink, err) ||
                (sink.written != t->nbytes &&
                 err_set(err, ERR_ARG, "GGUF writer: tensor '%s': %zu bytes produced, %zu expected", t->name,
                         sink.written, t->nbytes))) {
                file_atomic_abort(&af);
                return -1;
            }
        } else {
            file_atomic_write(&af, t->data, t->nbytes);
        }
        for (size_t pad = pad_to(t->nbytes, w->alignment) - t->nbytes; pad; pad -= pad > 256 ? 256 : pad)
            file_atomic_write(&af, zeros, pad > 256 ? 256 : pad);
    }
    return file_atomic_commit(&af, err);
}
