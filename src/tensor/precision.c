/* precision.c: parsing and run-time resolution of --precision (see precision.h). */
#include "precision.h"

#include <stdio.h>
#include <string.h>

#include "../core/cpu_features.h"
#include "onednn.h"

static const char *const NAMES[] = {[PRECISION_AUTO] = "auto", [PRECISION_FP32] = "fp32", [PRECISION_BF16] = "bf16"};

int precision_parse(const char *s, Precision *out, Err *err) {
    for (int p = PRECISION_AUTO; p <= PRECISION_BF16; p++)
        if (s && !strcmp(s, NAMES[p])) {
            *out = (Precision)p;
            return 0;
        }
    return err_set(err, ERR_ARG, "precision '%s' is not one of %s", s ? s : "", PRECISION_CHOICES);
}

const char *precision_name(Precision p) { return p >= PRECISION_AUTO && p <= PRECISION_BF16 ? NAMES[p] : "?"; }

int precision_resolve(Precision want, Precision *got, char *why, Err *err) {
    const CpuFeatures *f = cpu_features();
    char note[PRECISION_WHY_MAX];
    const char *unit = f->amx_bf16 ? "AMX-BF16" : f->avx512_bf16 ? "AVX512-BF16" : NULL;
    bool built = onednn_built();
    if (want == PRECISION_BF16 && (!built || !unit))
        return err_set(err, ERR_UNSUPPORTED, "bf16 precision is not available: %s",
                       !built ? "ftune was built without oneDNN (libdnnl-dev)"
                              : "this CPU has neither AMX-BF16 nor AVX512-BF16");
    if (want == PRECISION_BF16 || (want == PRECISION_AUTO && built && f->amx_bf16)) {
        *got = PRECISION_BF16;
        snprintf(note, sizeof note, "bf16 (%s on %s, oneDNN %s)", unit, f->model, onednn_isa());
    } else {
        *got = PRECISION_FP32;
        if (want == PRECISION_FP32) snprintf(note, sizeof note, "fp32 (requested)");
        else if (!built) snprintf(note, sizeof note, "fp32 (built without oneDNN)");
        else snprintf(note, sizeof note, "fp32 (no AMX-BF16 on %s%s)", f->model,
                      f->avx512_bf16 ? "; AVX512-BF16 is there: --precision bf16 uses it" : "");
    }
    if (why) snprintf(why, PRECISION_WHY_MAX, "%s", note);
    return 0;
}
