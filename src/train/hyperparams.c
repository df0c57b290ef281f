/* hyperparams.c: "auto" and numeric hyperparameters (see hyperparams.h). */
#include "hyperparams.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../data/validate.h"

static int is_auto(const char *v) { return !v || strcmp(v, "auto") == 0; }

static int parse_number(const char *name, const char *v, double lo, double hi, bool integer, double *out, Err *err) {
    char *end;
    errno = 0;
    double x = strtod(v, &end);
    if (errno || end == v || *end || !(x >= lo && x <= hi) || (integer && x != (long)x))
        return err_set(err, ERR_ARG, "%s must be \"auto\" or %s from %g to %g, got '%s'", name,
                       integer ? "an integer" : "a number", lo, hi, v);
    *out = x;
    return 0;
}

int hyperparams_resolve(long n, const char *n_epochs, const char *batch_size, const char *lr_multiplier,
                        Hyperparams *out, Err *err) {
    double x = 0;
    if (is_auto(n_epochs)) out->n_epochs = (int)validate_auto_epochs(n);
    else if (parse_number("n_epochs", n_epochs, 1, TRAIN_MAX_EPOCHS, true, &x, err)) return -1;
    else out->n_epochs = (int)x;
    if (is_auto(batch_size)) {
        int b = 1;
        while (b * 2 <= n / 64 && b * 2 <= 32) b *= 2;
        out->batch_size = b;
    } else if (parse_number("batch_size", batch_size, 1, TRAIN_MAX_BATCH, true, &x, err)) {
        return -1;
    } else {
        out->batch_size = (int)x;
    }
    if (is_auto(lr_multiplier)) out->lr_multiplier = 1.0;
    else if (parse_number("learning_rate_multiplier", lr_multiplier, 1e-6, TRAIN_MAX_LR_MULTIPLIER, false, &x, err))
        return -1;
    else out->lr_multiplier = x;
    out->learning_rate = (float)(TRAIN_BASE_LR * out->lr_multiplier);
    return 0;
}

int hyperparams_resolve_beta(const char *beta, double *out, Err *err) {
    if (is_auto(beta)) {
        *out = DPO_DEFAULT_BETA;
        return 0;
    }
    if (parse_number("beta", beta, 0, DPO_MAX_BETA, false, out, err)) return -1;
    if (!(*out > 0)) return err_set(err, ERR_ARG, "beta must be \"auto\" or a number greater than 0 and at most %g, got '%s'", DPO_MAX_BETA, beta);
    return 0;
}
