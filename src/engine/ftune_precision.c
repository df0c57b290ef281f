/* ftune_precision.c: ft_precision_parse, ft_precision_resolve, ft_model_set_precision,
 * ft_model_lay_out_tiles and ft_encoder_set_precision, the public face of tensor/precision.h,
 * model_set_precision, model_lay_out_tiles and encoder_set_precision (bf16 weight copies). */
#include "../tensor/precision.h"
#include "ftune_internal.h"

_Static_assert(FT_PRECISION_AUTO == (int)PRECISION_AUTO && FT_PRECISION_FP32 == (int)PRECISION_FP32 &&
                   FT_PRECISION_BF16 == (int)PRECISION_BF16,
               "FtPrecision mirrors Precision");
_Static_assert(FT_PRECISION_WHY_MAX == PRECISION_WHY_MAX, "the same reason buffer");

/* -1 with FT_ERR_ARG unless p is one of FtPrecision's values. */
static int check_value(FtPrecision p, FtError *err) {
    if (p >= FT_PRECISION_AUTO && p <= FT_PRECISION_BF16) return 0;
    return ft_err_set(err, FT_ERR_ARG, "precision %d is not one of auto, fp32, bf16", (int)p);
}

int ft_precision_parse(const char *s, FtPrecision *out, FtError *err) {
    Precision p;
    Err e = {0};
    if (!out) return ft_err_set(err, FT_ERR_ARG, "ft_precision_parse: NULL argument");
    if (precision_parse(s, &p, &e)) return ft_err_from(err, &e);
    *out = (FtPrecision)p;
    return 0;
}

int ft_precision_resolve(FtPrecision p, FtPrecision *got, char *why, FtError *err) {
    if (!got) return ft_err_set(err, FT_ERR_ARG, "ft_precision_resolve: NULL argument");
    if (check_value(p, err)) return -1;
    Precision r;
    Err e = {0};
    if (precision_resolve((Precision)p, &r, why, &e)) return ft_err_from(err, &e);
    *got = (FtPrecision)r;
    return 0;
}

int ft_model_set_precision(FtModel *m, FtPrecision p, char *why, FtError *err) {
    if (!m) return ft_err_set(err, FT_ERR_ARG, "ft_model_set_precision: NULL model");
    if (check_value(p, err)) return -1;
    Err e = {0};
    if (model_set_precision(m->model, (Precision)p, why, &e)) return ft_err_from(err, &e);
    m->info.precision = precision_name(m->model->precision);
    return 0;
}

int ft_model_lay_out_tiles(FtModel *m, FtError *err) {
    if (!m) return ft_err_set(err, FT_ERR_ARG, "ft_model_lay_out_tiles: NULL model");
    Err e = {0};
    if (model_lay_out_tiles(m->model, &e)) return ft_err_from(err, &e);
    return 0;
}

int ft_encoder_set_precision(FtEncoder *e, FtPrecision p, char *why, FtError *err) {
    if (!e) return ft_err_set(err, FT_ERR_ARG, "ft_encoder_set_precision: NULL encoder");
    if (check_value(p, err)) return -1;
    Err x = {0};
    if (encoder_set_precision(e->enc, (Precision)p, why, &x)) return ft_err_from(err, &x);
    return 0;
}
