/* model_precision.c: model_set_precision, the bf16 copies of a model's matrices: every matrix of the
 * architecture's table (arch.h), dequantized row by row and rounded to bf16 into one allocation;
 * matrices stored in BF16 point at their own bytes; a tied output head shares the embeddings'
 * copy. model_lay_out_tiles adds the AMX kernel's tile layout of every multiplied matrix. */
#include <stdlib.h>

#include "../tensor/matmul.h"
#include "../tensor/matmul_bf16.h"
#include "../tensor/matvec_amx.h"
#include "../tensor/quant_bf16.h"
#include "model.h"

typedef enum { PASS_COUNT, PASS_COPY, PASS_DROP } PassKind;

typedef struct {
    Model *m;
    PassKind kind;
    size_t n_elems;  /* bf16 values the copies need (counted) or used (copied) */
} CopyPass;

/* Rows of q converted (quant_rows_bf16: the same bits as the bf16 decode kernel's) into dst, split
 * across threads. */
static void copy_rows(uint16_t *dst, const QuantMatrix *q) {
#pragma omp parallel for schedule(static)
    for (int j = 0; j < q->rows; j++) quant_rows_bf16(dst + (size_t)j * q->cols, q, j, 1);
}

static int visit_matrix(void *ctx, const ArchWeight *w, int layer) {
    CopyPass *p = ctx;
    QuantMatrix *q = (QuantMatrix *)model_matrix(p->m, w, layer);
    if (!q) return 0;
    if (p->kind == PASS_DROP) {
        q->bf16 = q->amx_tiles = NULL;
    } else if (q->type == QUANT_BF16) {
        if (p->kind == PASS_COPY) q->bf16 = (const uint16_t *)q->data;
    } else {
        if (p->kind == PASS_COPY) {
            uint16_t *dst = p->m->bf16 + p->n_elems;
            copy_rows(dst, q);
            q->bf16 = dst;
        }
        p->n_elems += (size_t)q->rows * q->cols;
    }
    return 0;
}

static void drop_copies(Model *m) {
    CopyPass drop = {m, PASS_DROP, 0};
    arch_visit_weights(arch_describe(m->cfg.arch), &m->cfg, visit_matrix, &drop);
    m->output.bf16 = m->output.amx_tiles = NULL;
    free(m->bf16);
    free(m->tiles);
    m->bf16 = m->tiles = NULL;
}

int model_set_precision(Model *m, Precision want, char *why, Err *err) {
    Precision got;
    if (precision_resolve(want, &got, why, err)) return -1;
    if (got == m->precision) return 0; /* bf16 is set only once its copies exist */
    drop_copies(m);
    m->precision = PRECISION_FP32;
    if (got == PRECISION_FP32) return 0;
    const ArchDesc *a = arch_describe(m->cfg.arch);
    CopyPass pass = {m, PASS_COUNT, 0};
    arch_visit_weights(a, &m->cfg, visit_matrix, &pass);
    size_t bytes = (pass.n_elems ? pass.n_elems : 1) * sizeof(uint16_t);
    if ((m->bf16 = malloc(bytes))) {
        pass = (CopyPass){m, PASS_COPY, 0};
        arch_visit_weights(a, &m->cfg, visit_matrix, &pass);
    }
    if (!m->bf16) {
        drop_copies(m);
        return err_set(err, ERR_NOMEM, "%s: out of memory for the bf16 weights (%zu MiB)", m->path, bytes >> 20);
    }
    if (m->cfg.tied_embeddings) m->output.bf16 = m->tok_embd.bf16;
    m->precision = PRECISION_BF16;
    return 0;
}

typedef struct {
    Model *m;
    size_t n_elems; /* tile values counted, or laid out */
    bool lay_out;
} TilePass;

/* The products' matrices: not the embeddings (a row lookup; a tied head is m->output, laid out by
 * the caller, as an untied one is). */
static int visit_tiles(void *ctx, const ArchWeight *w, int layer) {
    TilePass *p = ctx;
    QuantMatrix *q = (QuantMatrix *)model_matrix(p->m, w, layer);
    if (!q || w->role == W_TOK_EMBD || w->role == W_OUTPUT) return 0;
    if (p->lay_out) amx_pack_tiles(p->m->tiles + p->n_elems, q), q->amx_tiles = p->m->tiles + p->n_elems;
    p->n_elems += amx_tiles_elems(q->rows, q->cols);
    return 0;
}

int model_lay_out_tiles(Model *m, Err *err) {
    if (m->tiles || m->precision != PRECISION_BF16 || !amx_matvec_available()) return 0;
    const ArchDesc *a = arch_describe(m->cfg.arch);
    TilePass pass = {m, 0, false};
    arch_visit_weights(a, &m->cfg, visit_tiles, &pass);
    size_t head = amx_tiles_elems(m->output.rows, m->output.cols), bytes = (pass.n_elems + head) * sizeof(uint16_t);
    if (!(m->tiles = aligned_alloc(64, (bytes + 63) / 64 * 64)))
        return err_set(err, ERR_NOMEM, "%s: out of memory for the weights' tile layout (%zu MiB)", m->path, bytes >> 20);
    pass = (TilePass){m, 0, true};
    arch_visit_weights(a, &m->cfg, visit_tiles, &pass);
    amx_pack_tiles(m->tiles + pass.n_elems, &m->output);
    m->output.amx_tiles = m->tiles + pass.n_elems;
    return 0;
}
