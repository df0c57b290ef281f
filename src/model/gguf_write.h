/* gguf_write.h: writer of GGUF v3 files (llama.cpp's model format), the twin of the reader in
 * gguf.h: metadata key/values of every type (arrays of numbers, of strings, and nested arrays
 * copied from a file that was read), tensor infos and data, each tensor's data aligned to
 * general.alignment (32 unless gguf_writer_set_alignment or a copied general.alignment says
 * otherwise), padded after every tensor as PyPI gguf's GGUFWriter pads. Keys and tensors are
 * written in the order they were added; a key or tensor name added twice is refused. The file is
 * written crash-safely (fileio.h). It does not quantize (tensor/quantize.h) and does not know
 * what the keys mean (export_gguf.c). */
#ifndef FTUNE_GGUF_WRITE_H
#define FTUNE_GGUF_WRITE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"
#include "gguf.h"

typedef struct GgufWriter GgufWriter;

/* A new, empty writer (ERR_NOMEM); free with gguf_writer_free (NULL is a no-op). */
int gguf_writer_new(GgufWriter **out, Err *err);
void gguf_writer_free(GgufWriter *w);

/* Alignment of the tensor data: a power of two; also written as general.alignment (uint32). */
int gguf_writer_set_alignment(GgufWriter *w, uint32_t alignment, Err *err);

/* One key of a scalar type (UINT8 ... FLOAT64, BOOL): value points to the value in its own C
 * type (uint8_t, int16_t, float, double, bool as uint8_t, ...). */
int gguf_writer_add_scalar(GgufWriter *w, const char *key, GgufType type, const void *value, Err *err);
int gguf_writer_add_u32(GgufWriter *w, const char *key, uint32_t v, Err *err);
int gguf_writer_add_f32(GgufWriter *w, const char *key, float v, Err *err);
int gguf_writer_add_str(GgufWriter *w, const char *key, const char *s, Err *err);
int gguf_writer_add_str_n(GgufWriter *w, const char *key, const char *s, uint64_t len, Err *err);
/* An array of n numbers of elem_type, data holding them little-endian, packed. */
int gguf_writer_add_array(GgufWriter *w, const char *key, GgufType elem_type, const void *data, uint64_t n, Err *err);
/* An array of n strings (lens may be NULL: NUL-terminated). */
int gguf_writer_add_str_array(GgufWriter *w, const char *key, const char *const *strs, const uint32_t *lens,
                              uint64_t n, Err *err);
/* A key/value as the reader gave it (any type, nested arrays included); general.alignment also
 * sets the alignment. */
int gguf_writer_copy_kv(GgufWriter *w, const GgufKV *kv, Err *err);
bool gguf_writer_has_key(const GgufWriter *w, const char *key);

/* A tensor: n_dims (1..4) sizes ne[] with ne[0] the row length (a multiple of the type's block),
 * of GGML type `type` (one of tensor/ops_quant.h's), data of exactly quant_row_bytes(type, ne[0])
 * * rows bytes. The writer copies data unless `own` (then it takes the malloc'ed buffer, also on
 * failure). */
int gguf_writer_add_tensor(GgufWriter *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne,
                           const void *data, size_t nbytes, bool own, Err *err);

/* A tensor whose bytes are made while the file is written, so that they need not all be in memory
 * at once: produce(ctx, sink, err) must write exactly its quant_row_bytes(type, ne[0]) * rows bytes
 * through gguf_sink_write, in order, and return 0 (else -1 with err set: the file is not written).
 * ctx must stay valid until gguf_writer_write returns. */
typedef struct GgufSink GgufSink;
void gguf_sink_write(GgufSink *sink, const void *data, size_t n);
typedef int (*GgufProduce)(void *ctx, GgufSink *sink, Err *err);
int gguf_writer_add_tensor_lazy(GgufWriter *w, const char *name, uint32_t type, uint32_t n_dims, const uint64_t *ne,
                                GgufProduce produce, void *ctx, Err *err);

/* Writes the file (crash-safely: path holds the old or the whole new file). */
int gguf_writer_write(GgufWriter *w, const char *path, Err *err);

#endif
