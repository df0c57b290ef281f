/* safetensors.h: reader for the safetensors format (Hugging Face): an 8-byte little-endian header
 * length, a JSON header {name: {dtype, shape, data_offsets}, "__metadata__": {...}}, then the raw
 * data. Every offset and shape is checked against the file before use. Converts F32/F16/BF16 to
 * fp32. It does not know about models or shards (model_hf.c does). */
#ifndef FTUNE_SAFETENSORS_H
#define FTUNE_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

#define ST_MAX_DIMS 8
#define ST_MAX_HEADER (100u << 20) /* the header JSON may not exceed 100 MiB */

typedef enum { ST_F32, ST_F16, ST_BF16, ST_OTHER } StDtype;

typedef struct {
    char *name;
    StDtype dtype;
    char dtype_name[16];
    int n_dims;
    uint64_t shape[ST_MAX_DIMS];
    uint64_t n_elements;
    const unsigned char *data; /* inside the mapping */
    uint64_t nbytes;
} StTensor;

typedef struct SafeTensors SafeTensors;

/* Opens and validates path; errors name the file and the problem. Free with st_close. */
int st_open(const char *path, SafeTensors **out, Err *err);
void st_close(SafeTensors *st); /* NULL is a no-op */
int st_n_tensors(const SafeTensors *st);
const StTensor *st_tensor(const SafeTensors *st, int i);
const StTensor *st_find(const SafeTensors *st, const char *name); /* NULL if absent */
const char *st_path(const SafeTensors *st);
/* Converts t to fp32 into out (t->n_elements floats); ERR_UNSUPPORTED for other dtypes. */
int st_tensor_to_f32(const StTensor *t, float *out, Err *err);

/* One fp32 tensor to write. */
typedef struct {
    const char *name;
    const float *data;
    int n_dims;
    uint64_t shape[ST_MAX_DIMS];
} StWriteTensor;

/* Writes n fp32 tensors (in the given order) to path crash-safely, with an optional
 * "__metadata__" string map (meta_kv: NULL or key, value, key, value, ..., NULL). */
int st_write(const char *path, const StWriteTensor *tensors, int n, const char *const *meta_kv, Err *err);

#endif
