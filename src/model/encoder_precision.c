/* encoder_precision.c: encoder_set_precision (encoder.h), the bf16 copies of an encoder's layer
 * matrices: each rounded to bf16 (quant_rows_bf16, the bits model_precision.c's copies have) into one
 * allocation, made once when bf16 is chosen and dropped when fp32 is. Where the CPU has AMX tiles
 * each copy is also laid out once in the AMX kernel's tiles (amx_pack_tiles), which the short
 * batches of embeddings would otherwise pay on every product. The embedding tables are only looked
 * up, never multiplied: they stay fp32 alone. */
#include <stdlib.h>

#include "../tensor/matvec_amx.h"
#include "../tensor/quant_bf16.h"
#include "encoder.h"

#define MATRICES_PER_LAYER 6

static QuantMatrix *layer_matrix(EncoderLayer *L, int i) {
    QuantMatrix *m[MATRICES_PER_LAYER] = {&L->q_w, &L->k_w, &L->v_w, &L->o_w, &L->ff1_w, &L->ff2_w};
    return m[i];
}

/* A matrix's bf16 copy, rounded up so that what follows it stays 64-byte aligned (the tiles). */
static size_t copy_elems(const QuantMatrix *m) { return ((size_t)m->rows * m->cols + 31) / 32 * 32; }

static void drop_copies(Encoder *e) {
    for (int l = 0; l < e->cfg.n_layer; l++)
        for (int i = 0; i < MATRICES_PER_LAYER; i++) {
            QuantMatrix *m = layer_matrix(&e->layers[l], i);
            m->bf16 = m->amx_tiles = NULL;
        }
    free(e->bf16);
    e->bf16 = NULL;
    e->precision = PRECISION_FP32;
}

int encoder_set_precision(Encoder *e, Precision want, char *why, Err *err) {
    if (!e) return err_set(err, ERR_ARG, "encoder_set_precision: no encoder");
    Precision got;
    if (precision_resolve(want, &got, why, err)) return -1;
    if (got == e->precision) return 0;
    drop_copies(e);
    if (got == PRECISION_FP32) return 0;
    bool tiles = amx_matvec_available();
    size_t elems = 0;
    for (int l = 0; l < e->cfg.n_layer; l++)
        for (int i = 0; i < MATRICES_PER_LAYER; i++) {
            const QuantMatrix *m = layer_matrix(&e->layers[l], i);
            elems += copy_elems(m) + (tiles ? amx_tiles_elems(m->rows, m->cols) : 0);
        }
    if (!(e->bf16 = aligned_alloc(64, elems * sizeof(uint16_t))))
        return err_set(err, ERR_NOMEM, "%s: out of memory for the bf16 weights (%zu MiB)", e->path,
                       (elems * sizeof(uint16_t)) >> 20);
    uint16_t *next = e->bf16;
    for (int l = 0; l < e->cfg.n_layer; l++)
        for (int i = 0; i < MATRICES_PER_LAYER; i++) {
            QuantMatrix *m = layer_matrix(&e->layers[l], i);
#pragma omp parallel for schedule(static)
            for (int j = 0; j < m->rows; j++) quant_rows_bf16(next + (size_t)j * m->cols, m, j, 1);
            m->bf16 = next;
            next += copy_elems(m);
            if (tiles) {
                amx_pack_tiles(next, m);
                m->amx_tiles = next;
                next += amx_tiles_elems(m->rows, m->cols);
            }
        }
    e->precision = PRECISION_BF16;
    return 0;
}
