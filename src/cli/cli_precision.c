/* cli_precision.c: --precision for the subcommands (see cli_precision.h). */
#include "cli_precision.h"

#include <stdio.h>

#include "cli.h"

int cli_precision_parse(const Args *a, FtPrecision *out) {
    *out = FT_PRECISION_AUTO;
    const char *v = args_get(a, "precision");
    FtError err = {0};
    FtPrecision got;
    if (v && (ft_precision_parse(v, out, &err) || ft_precision_resolve(*out, &got, NULL, &err))) {
        fprintf(stderr, "ftune: --precision: %s\n", err.msg);
        return EXIT_BAD_INPUT;
    }
    return 0;
}

/* What the apply functions return for set's status rc, after printing the choice or the error. */
static int report(int rc, const char *why, const FtError *err) {
    if (rc) {
        fprintf(stderr, "ftune: %s\n", err->msg);
        return err->code == FT_ERR_UNSUPPORTED ? EXIT_BAD_INPUT : 1;
    }
    fprintf(stderr, "precision: %s\n", why);
    return 0;
}

int cli_precision_apply(FtModel *m, FtPrecision p) {
    char why[FT_PRECISION_WHY_MAX];
    FtError err = {0};
    return report(ft_model_set_precision(m, p, why, &err), why, &err);
}

int cli_precision_apply_encoder(FtEncoder *e, FtPrecision p) {
    char why[FT_PRECISION_WHY_MAX];
    FtError err = {0};
    return report(ft_encoder_set_precision(e, p, why, &err), why, &err);
}
