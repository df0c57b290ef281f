/* attention_train_impl.h: the products of causal training attention and its softmax rows
 * (attention_train.c), written once over a vector type and included by attention_train.c once per
 * instruction set, with ATT_SUFFIX (the functions' name suffix), ATT_TARGET (their target
 * attribute), ATT_VEC (the vector type), ATT_VW (floats in one), ATT_NV (vectors a row chunk of
 * the row-times-matrix products keeps in registers), ATT_LOAD/STORE/FMA/SET1/ZERO/ADD/SUB/MUL/
 * MAX/MIN/ROUND and the functions att_pow2i/zero_below/load_tail/store_tail/hmax/hsum (with the
 * suffix) defined. Only products below the causal diagonal are computed, up to the end of the
 * diagonal's tile (ATT_R rows, or a vector of a column block). Each function covers a range of
 * rows [ta, tb) (or keys), so that threads can share a sequence; a range has at least ATT_R rows
 * (its short last tile is moved back to end at tb - 1, and stores only the rows the tile before it
 * did not), hd is a multiple of ATT_VW and at most ATT_DMAX: attention_train.c sees to all three. */

#define ATT_CAT2(a, b) a##b
#define ATT_CAT(a, b) ATT_CAT2(a, b)
#define ATT_FN(name) ATT_CAT(name, ATT_SUFFIX)
#define ATT_CB (2 * ATT_VW) /* columns of one S block */
#define ATT_INLINE static inline __attribute__((always_inline)) ATT_TARGET

/* Rows [skip, ATT_R) of c (ldc) = a's ATT_R rows (lda) times the transposed block bt (hd, ATT_CB),
 * the first jn columns of each; nv (1 or 2) vectors of it (1: rows that end within the first). */
ATT_INLINE void ATT_FN(att_dots_tile)(float *c, size_t ldc, const float *a, size_t lda, const float *bt, int hd,
                                      int skip, int jn, const int nv) {
    ATT_VEC acc[ATT_R][2];
    for (int r = 0; r < ATT_R; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = ATT_ZERO;
    for (int d = 0; d < hd; d++) {
        ATT_VEC b[2];
        for (int v = 0; v < nv; v++) b[v] = ATT_LOAD(bt + d * ATT_CB + v * ATT_VW);
        for (int r = 0; r < ATT_R; r++) {
            ATT_VEC x = ATT_SET1(a[(size_t)r * lda + d]);
            for (int v = 0; v < nv; v++) acc[r][v] = ATT_FMA(x, b[v], acc[r][v]);
        }
    }
    for (int r = skip; r < ATT_R; r++) {
        float *cr = c + (size_t)r * ldc;
        if (jn >= nv * ATT_VW) {
            for (int v = 0; v < nv; v++) ATT_STORE(cr + v * ATT_VW, acc[r][v]);
        } else {
            float tmp[ATT_CB];
            for (int v = 0; v < nv; v++) ATT_STORE(tmp + v * ATT_VW, acc[r][v]);
            memcpy(cr, tmp, (size_t)jn * sizeof(float));
        }
    }
}

/* C_g[t][j] = scale * A_g[t] . B[j] for the G heads g that share B (C_g = C + g c_head, (T, T);
 * A_g = A + g a_head, rows lda apart; B rows ldb apart), for the rows t in [ta, tb), every j <= t
 * and the rest of t's vector in its column block (left for the caller to overwrite). */
ATT_TARGET static void ATT_FN(att_dots)(float *C, size_t c_head, const float *A, size_t lda, size_t a_head, int G,
                                        const float *B, size_t ldb, int T, int hd, float scale, int ta, int tb) {
    float bt[ATT_DMAX * ATT_CB] __attribute__((aligned(64))); /* B's block transposed, times scale */
    for (int j0 = 0; j0 < tb; j0 += ATT_CB) {
        int jn = T - j0 < ATT_CB ? T - j0 : ATT_CB;
        for (int c = 0; c < ATT_CB; c++) {
            const float *br = B + (size_t)(j0 + (c < jn ? c : 0)) * ldb;
            float s = c < jn ? scale : 0.0f;
            for (int d = 0; d < hd; d++) bt[d * ATT_CB + c] = s * br[d];
        }
        for (int g = 0; g < G; g++) {
            float *cg = C + (size_t)g * c_head;
            const float *ag = A + (size_t)g * a_head;
            int first = j0 > ta ? j0 : ta;
            for (int t0 = first, prev_end = first; t0 < tb; t0 += ATT_R) {
                int s0 = t0 + ATT_R <= tb ? t0 : tb - ATT_R; /* the last tile ends at tb - 1 */
                int skip = prev_end - s0 > 0 ? prev_end - s0 : 0;
                const float *as = ag + (size_t)s0 * lda;
                float *cs = cg + (size_t)s0 * T + j0;
                if (s0 + ATT_R <= j0 + ATT_VW) /* rows t < j0 + ATT_VW: the second vector is past t */
                    ATT_FN(att_dots_tile)(cs, (size_t)T, as, lda, bt, hd, skip, jn, 1);
                else
                    ATT_FN(att_dots_tile)(cs, (size_t)T, as, lda, bt, hd, skip, jn, 2);
                prev_end = s0 + ATT_R;
            }
        }
    }
}

/* Rows [skip, ATT_R) of o (ldo), nv vectors wide, = p's ATT_R rows (ldp) times b's first jend rows
 * (ldb). */
ATT_INLINE void ATT_FN(att_rows_mat_tile)(float *o, size_t ldo, const float *p, size_t ldp, const float *b, size_t ldb,
                                          int jend, int skip, const int nv) {
    ATT_VEC acc[ATT_R][ATT_NV];
    for (int r = 0; r < ATT_R; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = ATT_ZERO;
    for (int j = 0; j < jend; j++) {
        ATT_VEC bv[ATT_NV];
        for (int v = 0; v < nv; v++) bv[v] = ATT_LOAD(b + (size_t)j * ldb + v * ATT_VW);
        for (int r = 0; r < ATT_R; r++) {
            ATT_VEC x = ATT_SET1(p[(size_t)r * ldp + j]);
            for (int v = 0; v < nv; v++) acc[r][v] = ATT_FMA(x, bv[v], acc[r][v]);
        }
    }
    for (int r = skip; r < ATT_R; r++)
        for (int v = 0; v < nv; v++) ATT_STORE(o + (size_t)r * ldo + v * ATT_VW, acc[r][v]);
}

/* O[t] = sum_{j <= t} P[t][j] B[j] (overwrite) for the rows t in [ta, tb): P (T, T) with zeros
 * past t in each row, B and O rows ldb and ldo apart, hd wide. */
ATT_TARGET static void ATT_FN(att_rows_mat)(float *O, size_t ldo, const float *P, const float *B, size_t ldb, int T,
                                            int hd, int ta, int tb) {
    for (int t0 = ta, prev_end = ta; t0 < tb; t0 += ATT_R) {
        int s0 = t0 + ATT_R <= tb ? t0 : tb - ATT_R, skip = prev_end - s0 > 0 ? prev_end - s0 : 0;
        const float *p = P + (size_t)s0 * T;
        int dc = 0;
        for (; dc + ATT_NV * ATT_VW <= hd; dc += ATT_NV * ATT_VW)
            ATT_FN(att_rows_mat_tile)(O + (size_t)s0 * ldo + dc, ldo, p, (size_t)T, B + dc, ldb, s0 + ATT_R, skip,
                                      ATT_NV);
        for (; dc < hd; dc += ATT_VW)
            ATT_FN(att_rows_mat_tile)(O + (size_t)s0 * ldo + dc, ldo, p, (size_t)T, B + dc, ldb, s0 + ATT_R, skip, 1);
        prev_end = s0 + ATT_R;
    }
}

/* Rows [skip, ATT_R) of d (ldd), nv vectors wide, += sum over the G heads g and rows t in
 * [t_from, t_end) of p_g[t][i] a_g[t]: p (column j0 of P_g's row 0, rows T apart, heads p_head
 * apart), a (a_head apart, rows lda apart). */
ATT_INLINE void ATT_FN(att_cols_rows_tile)(float *d, size_t ldd, const float *p, size_t p_head, const float *a,
                                           size_t lda, size_t a_head, int G, int t_from, int t_end, int T, int skip,
                                           const int nv) {
    ATT_VEC acc[ATT_R][ATT_NV]; /* rows below skip are not this call's: neither read nor written */
    for (int i = 0; i < ATT_R; i++)
        for (int v = 0; v < nv; v++) acc[i][v] = i < skip ? ATT_ZERO : ATT_LOAD(d + (size_t)i * ldd + v * ATT_VW);
    for (int g = 0; g < G; g++) {
        const float *pg = p + (size_t)g * p_head, *ag = a + (size_t)g * a_head;
        for (int t = t_from; t < t_end; t++) {
            const float *pr = pg + (size_t)t * T, *ar = ag + (size_t)t * lda;
            ATT_VEC av[ATT_NV];
            for (int v = 0; v < nv; v++) av[v] = ATT_LOAD(ar + v * ATT_VW);
            for (int i = 0; i < ATT_R; i++) {
                ATT_VEC x = ATT_SET1(pr[i]);
                for (int v = 0; v < nv; v++) acc[i][v] = ATT_FMA(x, av[v], acc[i][v]);
            }
        }
    }
    for (int i = skip; i < ATT_R; i++)
        for (int v = 0; v < nv; v++) ATT_STORE(d + (size_t)i * ldd + v * ATT_VW, acc[i][v]);
}

/* D[j] = sum_g sum_{t >= j} P_g[t][j] A_g[t] (overwrite) for the keys j in [ka, kb): P_g = P +
 * g p_head (T, T) with zeros past t in each row, A_g = A + g a_head (rows lda apart), D rows ldd
 * apart, hd wide. The rows t run in blocks of ATT_TB, each block over every key tile it reaches,
 * so that the block's rows of A and cache lines of P stay in the L1 cache from one key tile to
 * the next. */
ATT_TARGET static void ATT_FN(att_cols_rows)(float *D, size_t ldd, const float *P, size_t p_head, const float *A,
                                             size_t lda, size_t a_head, int G, int T, int hd, int ka, int kb) {
    for (int j = ka; j < kb; j++) memset(D + (size_t)j * ldd, 0, (size_t)hd * sizeof(float));
    for (int tb = ka; tb < T; tb += ATT_TB) {
        int te = tb + ATT_TB < T ? tb + ATT_TB : T, kend = te < kb ? te : kb;
        for (int j0 = ka, prev_end = ka; j0 < kend; j0 += ATT_R) {
            /* the last tile ends at key kb - 1; of the keys it shares with the tile before, it stores none */
            int s0 = j0 + ATT_R <= kb ? j0 : kb - ATT_R, skip = prev_end - s0 > 0 ? prev_end - s0 : 0;
            int t_from = s0 > tb ? s0 : tb, dc = 0;
            for (; dc + ATT_NV * ATT_VW <= hd; dc += ATT_NV * ATT_VW)
                ATT_FN(att_cols_rows_tile)(D + (size_t)s0 * ldd + dc, ldd, P + s0, p_head, A + dc, lda, a_head, G,
                                           t_from, te, T, skip, ATT_NV);
            for (; dc < hd; dc += ATT_VW)
                ATT_FN(att_cols_rows_tile)(D + (size_t)s0 * ldd + dc, ldd, P + s0, p_head, A + dc, lda, a_head, G,
                                           t_from, te, T, skip, 1);
            prev_end = s0 + ATT_R;
        }
    }
}

/* fast_exp.h's fast_expf, a vector at a time: the same reduction and polynomial (with FMA), 0
 * below -87.3. */
ATT_INLINE ATT_VEC ATT_FN(att_exp)(ATT_VEC x) {
    const ATT_VEC lo = ATT_SET1(-87.3f);
    ATT_VEC xc = ATT_MIN(ATT_MAX(x, lo), ATT_SET1(88.0f));
    ATT_VEC n = ATT_ROUND(ATT_MUL(xc, ATT_SET1(1.44269504088896341f)));
    ATT_VEC r = ATT_FMA(n, ATT_SET1(-0.693359375f), xc);
    r = ATT_FMA(n, ATT_SET1(2.12194440e-4f), r);
    ATT_VEC p = ATT_SET1(1.9875691500e-4f);
    p = ATT_FMA(p, r, ATT_SET1(1.3981999507e-3f));
    p = ATT_FMA(p, r, ATT_SET1(8.3334519073e-3f));
    p = ATT_FMA(p, r, ATT_SET1(4.1665795894e-2f));
    p = ATT_FMA(p, r, ATT_SET1(1.6666665459e-1f));
    p = ATT_FMA(p, r, ATT_SET1(5.0000001201e-1f));
    ATT_VEC y = ATT_FMA(ATT_MUL(p, r), r, ATT_ADD(r, ATT_SET1(1.0f)));
    return ATT_FN(att_zero_below)(x, lo, ATT_MUL(y, ATT_FN(att_pow2i)(n)));
}

/* Rows [ta, tb) of P_g (G heads, (T, T)): softmax over [0, t], zeros past t. */
ATT_TARGET static void ATT_FN(att_softmax_rows)(float *P, int G, int T, int ta, int tb) {
    for (int g = 0; g < G; g++)
        for (int t = ta; t < tb; t++) {
            int m = t + 1;
            float *row = P + ((size_t)g * T + t) * T;
            ATT_VEC mx = ATT_SET1(-INFINITY), sum = ATT_ZERO;
            for (int j = 0; j < m; j += ATT_VW) mx = ATT_MAX(mx, ATT_FN(att_load_tail)(row + j, m - j, -INFINITY));
            ATT_VEC top = ATT_SET1(ATT_FN(att_hmax)(mx));
            for (int j = 0; j < m; j += ATT_VW) {
                ATT_VEC e = ATT_FN(att_exp)(ATT_SUB(ATT_FN(att_load_tail)(row + j, m - j, -INFINITY), top));
                sum = ATT_ADD(sum, e);
                ATT_FN(att_store_tail)(row + j, e, m - j);
            }
            ATT_VEC inv = ATT_SET1(1.0f / ATT_FN(att_hsum)(sum));
            for (int j = 0; j < m; j += ATT_VW)
                ATT_FN(att_store_tail)(row + j, ATT_MUL(ATT_FN(att_load_tail)(row + j, m - j, 0.0f), inv), m - j);
            memset(row + m, 0, (size_t)(T - m) * sizeof(float));
        }
}

/* Rows [ta, tb) of dP_g (G heads, (T, T)) turned into dS = P (dP - sum_j P dP) scale over [0, t],
 * zeros past t. */
ATT_TARGET static void ATT_FN(att_softmax_backward_rows)(float *dP, const float *P, int G, int T, float scale, int ta,
                                                         int tb) {
    for (int g = 0; g < G; g++)
        for (int t = ta; t < tb; t++) {
            int m = t + 1;
            const float *pr = P + ((size_t)g * T + t) * T;
            float *dr = dP + ((size_t)g * T + t) * T;
            ATT_VEC acc = ATT_ZERO;
            for (int j = 0; j < m; j += ATT_VW)
                acc = ATT_FMA(ATT_FN(att_load_tail)(pr + j, m - j, 0.0f), ATT_FN(att_load_tail)(dr + j, m - j, 0.0f),
                              acc);
            ATT_VEC dot = ATT_SET1(ATT_FN(att_hsum)(acc)), s = ATT_SET1(scale);
            for (int j = 0; j < m; j += ATT_VW) {
                ATT_VEC p = ATT_FN(att_load_tail)(pr + j, m - j, 0.0f), d = ATT_FN(att_load_tail)(dr + j, m - j, 0.0f);
                ATT_FN(att_store_tail)(dr + j, ATT_MUL(ATT_MUL(p, ATT_SUB(d, dot)), s), m - j);
            }
            memset(dr + m, 0, (size_t)(T - m) * sizeof(float));
        }
}

#undef ATT_INLINE
#undef ATT_CB
#undef ATT_FN
#undef ATT_CAT
#undef ATT_CAT2
