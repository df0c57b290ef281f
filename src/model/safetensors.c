/* safetensors.c: bounds-checked safetensors parsing with Jansson, dtype conversion to fp32. */
#include "safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "../core/fault.h"
#include "../core/fileio.h"
#include "../core/half.h"

struct SafeTensors {
    char *path;
    MappedFile file;
    int n;
    StTensor *tensors;
};

void st_close(SafeTensors *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) free(st->tensors[i].name);
    free(st->tensors);
    file_unmap(&st->file);
    free(st->path);
    free(st);
}

static StDtype parse_dtype(const char *s, size_t *elem_size) {
    if (strcmp(s, "F32") == 0) { *elem_size = 4; return ST_F32; }
    if (strcmp(s, "F16") == 0) { *elem_size = 2; return ST_F16; }
    if (strcmp(s, "BF16") == 0) { *elem_size = 2; return ST_BF16; }
    static const struct { const char *name; size_t size; } others[] = {
        {"F64", 8}, {"I64", 8}, {"U64", 8}, {"I32", 4}, {"U32", 4}, {"I16", 2}, {"U16", 2},
        {"I8", 1},  {"U8", 1},  {"BOOL", 1}, {"F8_E4M3", 1}, {"F8_E5M2", 1}};
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
        if (strcmp(s, others[i].name) == 0) { *elem_size = others[i].size; return ST_OTHER; }
    *elem_size = 0;
    return ST_OTHER;
}

static int parse_entry(SafeTensors *st, const char *name, json_t *v, uint64_t data_size, StTensor *t, Err *err) {
    const char *path = st->path;
    if (!json_is_object(v)) return err_set(err, ERR_FORMAT, "%s: tensor '%s': entry is not an object", path, name);
    json_t *dt = json_object_get(v, "dtype"), *shape = json_object_get(v, "shape"),
           *offs = json_object_get(v, "data_offsets");
    if (!json_is_string(dt) || !json_is_array(shape) || !json_is_array(offs) || json_array_size(offs) != 2)
        return err_set(err, ERR_FORMAT, "%s: tensor '%s': needs dtype, shape and data_offsets [begin, end]", path, name);
    size_t es;
    t->dtype = parse_dtype(json_string_value(dt), &es);
    snprintf(t->dtype_name, sizeof t->dtype_name, "%s", json_string_value(dt));
    if (!es) return err_set(err, ERR_UNSUPPORTED, "%s: tensor '%s': unknown dtype '%s'", path, name, t->dtype_name);
    if (json_array_size(shape) > ST_MAX_DIMS)
        return err_set(err, ERR_FORMAT, "%s: tensor '%s': too many dimensions", path, name);
    t->n_dims = (int)json_array_size(shape);
    t->n_elements = 1;
    for (int d = 0; d < t->n_dims; d++) {
        json_t *x = json_array_get(shape, d);
        if (!json_is_integer(x) || json_integer_value(x) < 0 || json_integer_value(x) > (1ll << 40))
            return err_set(err, ERR_FORMAT, "%s: tensor '%s': invalid shape", path, name);
        t->shape[d] = (uint64_t)json_integer_value(x);
        if (t->shape[d] && t->n_elements > (1ull << 40) / t->shape[d])
            return err_set(err, ERR_FORMAT, "%s: tensor '%s': shape too large", path, name);
        t->n_elements *= t->shape[d];
    }
    json_t *b = json_array_get(offs, 0), *e = json_array_get(offs, 1);
    if (!json_is_integer(b) || !json_is_integer(e) || json_integer_value(b) < 0 ||
        json_integer_value(e) < json_integer_value(b))
        return err_set(err, ERR_FORMAT, "%s: tensor '%s': invalid data_offsets", path, name);
    uint64_t begin = (uint64_t)json_integer_value(b), end = (uint64_t)json_integer_value(e);
    if (end > data_size)
        return err_set(err, ERR_FORMAT, "%s: tensor '%s': data [%llu, %llu) lies outside the file's %llu data bytes",
                       path, name, (unsigned long long)begin, (unsigned long long)end, (unsigned long long)data_size);
    if (end - begin != t->n_elements * es)
        return err_set(err, ERR_FORMAT, "%s: tensor '%s': %llu bytes do not match its shape and dtype (%llu expected)",
                       path, name, (unsigned long long)(end - begin), (unsigned long long)(t->n_elements * es));
    t->nbytes = end - begin;
    t->data = st->file.data + (st->file.size - data_size) + begin; /* data follows the header */
    return 0;
}

static int parse(SafeTensors *st, Err *err) {
    const char *path = st->path;
    if (st->file.size < 8) return err_set(err, ERR_FORMAT, "%s: not a safetensors file (shorter than 8 bytes)", path);
    uint64_t hlen = 0;
    memcpy(&hlen, st->file.data, 8);
    if (hlen > ST_MAX_HEADER || hlen > st->file.size - 8)
        return err_set(err, ERR_FORMAT, "%s: header length %llu runs past the end of the file (%zu bytes)", path,
                       (unsigned long long)hlen, st->file.size);
    json_error_t je;
    json_t *root = json_loadb((const char *)st->file.data + 8, hlen, 0, &je);
    if (!root) return err_set(err, ERR_FORMAT, "%s: header is not valid JSON (column %d: %s)", path, je.column, je.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return err_set(err, ERR_FORMAT, "%s: header is not a JSON object", path);
    }
    uint64_t data_size = st->file.size - 8 - hlen;
    st->tensors = fault_calloc(json_object_size(root) + 1, sizeof(StTensor));
    if (!st->tensors) {
        json_decref(root);
        return err_set(err, ERR_NOMEM, "%s: out of memory", path);
    }
    const char *key;
    json_t *v;
    int rc = 0;
    json_object_foreach(root, key, v) {
        if (strcmp(key, "__metadata__") == 0) continue;
        StTensor *t = &st->tensors[st->n];
        if (!(t->name = strdup(key))) {
            rc = err_set(err, ERR_NOMEM, "%s: out of memory", path);
            break;
        }
        st->n++;
        if ((rc = parse_entry(st, key, v, data_size, t, err))) break;
    }
    json_decref(root);
    return rc;
}

int st_open(const char *path, SafeTensors **out, Err *err) {
    *out = NULL;
    SafeTensors *st = fault_calloc(1, sizeof *st);
    if (!st || !(st->path = strdup(path))) {
        free(st);
        return err_set(err, ERR_NOMEM, "%s: out of memory", path);
    }
    if (file_map(path, &st->file, err) || parse(st, err)) {
        st_close(st);
        return -1;
    }
    *out = st;
    return 0;
}

int st_n_tensors(const SafeTensors *st) { return st->n; }
const StTensor *st_tensor(const SafeTensors *st, int i) { return (i >= 0 && i < st->n) ? &st->tensors[i] : NULL; }
const char *st_path(const SafeTensors *st) { return st->path; }

const StTensor *st_find(const SafeTensors *st, const char *name) {
    for (int i = 0; i < st->n; i++)
        if (strcmp(st->tensors[i].name, name) == 0) return &st->tensors[i];
    return NULL;
}

int st_tensor_to_f32(const StTensor *t, float *out, Err *err) {
    const unsigned char *p = t->data;
    switch (t->dtype) {
    case ST_F32:
        memcpy(out, p, t->n_elements * 4);
        return 0;
    case ST_F16:
    case ST_BF16:
        for (uint64_t i = 0; i < t->n_elements; i++) {
            uint16_t h = (uint16_t)(p[2 * i] | (p[2 * i + 1] << 8));
            out[i] = t->dtype == ST_F16 ? fp16_to_f32(h) : bf16_to_f32(h);
        }
        return 0;
    default:
        return err_set(err, ERR_UNSUPPORTED, "tensor '%s': dtype %s is not supported (F32, F16, BF16 are)", t->name,
                       t->dtype_name);
    }
}

int st_write(const char *path, const StWriteTensor *tensors, int n, const char *const *meta_kv, Err *err) {
    json_t *hdr = json_object();
    if (meta_kv && meta_kv[0]) {
        json_t *meta = json_object();
        for (const char *const *kv = meta_kv; kv[0] && kv[1]; kv += 2) json_object_set_new(meta, kv[0], json_string(kv[1]));
        json_object_set_new(hdr, "__metadata__", meta);
    }
    uint64_t offset = 0;
    for (int i = 0; i < n; i++) {
        const StWriteTensor *t = &tensors[i];
        uint64_t count = 1;
        json_t *shape = json_array();
        for (int d = 0; d < t->n_dims; d++) {
            json_array_append_new(shape, json_integer((json_int_t)t->shape[d]));
            count *= t->shape[d];
        }
        json_t *e = json_object();
        json_object_set_new(e, "dtype", json_string("F32"));
        json_object_set_new(e, "shape", shape);
        json_object_set_new(e, "data_offsets",
                            json_pack("[II]", (json_int_t)offset, (json_int_t)(offset + count * 4)));
        json_object_set_new(hdr, t->name, e);
        offset += count * 4;
    }
    char *text = json_dumps(hdr, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(hdr);
    if (!text) return err_set(err, ERR_NOMEM, "%s: out of memory", path);
    size_t len = strlen(text), padded = (len + 7) / 8 * 8; /* data starts 8-aligned */
    AtomicFile af;
    if (file_atomic_open(&af, path, err)) {
        free(text);
        return -1;
    }
    uint64_t hlen = padded;
    file_atomic_write(&af, &hlen, 8);
    file_atomic_write(&af, text, len);
    file_atomic_write(&af, "        ", padded - len); /* fewer than 8 spaces */
    free(text);
    for (int i = 0; i < n; i++) {
        uint64_t count = 1;
        for (int d = 0; d < tensors[i].n_dims; d++) count *= tensors[i].shape[d];
        file_atomic_write(&af, tensors[i].data, 4 * count);
    }
    return file_atomic_commit(&af, err);
}
