/* model_cache.h: base models loaded once (ft_model_load, ftune.h) and shared by the inference thread
 * and the training worker (a model is read-only after loading). Each get takes a reference; put
 * gives it back.
 * Models nobody holds stay loaded until more than MODEL_CACHE_KEEP are, then the least recently
 * used is freed. Loading happens outside the lock, so one slow load does not block other models.
 * Thread-safe. */
#ifndef FTUNE_MODEL_CACHE_H
#define FTUNE_MODEL_CACHE_H

#include "../core/err.h"
#include "../ftune.h"

#define MODEL_CACHE_KEEP 2

typedef struct ModelCache ModelCache;

/* Every model the cache loads is set to precision (resolved: fp32 or bf16, see ftune.h); with
 * serving, also laid out for many rows a step (ft_model_lay_out_tiles: a server's, not a training
 * worker's). */
int model_cache_new(ModelCache **out, FtPrecision precision, bool serving, Err *err);
void model_cache_free(ModelCache *c); /* every reference must have been put back; NULL is a no-op */

/* The model at path (a GGUF file or a Hugging Face directory), loaded on first use: the code and
 * message of ft_model_load's error, or ERR_UNSUPPORTED when every slot is in use. */
int model_cache_get(ModelCache *c, const char *path, const FtModel **out, Err *err);
void model_cache_put(ModelCache *c, const FtModel *m);

#endif
