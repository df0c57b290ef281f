/* cli_precision.h: the --precision auto|fp32|bf16 option that train, chat, eval, serve and embed
 * share: parsing it (auto when absent) and applying it to a loaded model or encoder, printing the choice and the CPU
 * feature behind it on stderr ("precision: bf16 (AMX-BF16 on <cpu>, oneDNN avx512_core_amx)"). */
#ifndef FTUNE_CLI_PRECISION_H
#define FTUNE_CLI_PRECISION_H

#include "../ftune.h"
#include "args.h"

#define CLI_PRECISION_USAGE "--precision auto|fp32|bf16"

/* *out from --precision (FT_PRECISION_AUTO when absent). Returns 0, or EXIT_BAD_INPUT after
 * printing the bad value or why bf16 is not available here (before any model is loaded). */
int cli_precision_parse(const Args *a, FtPrecision *out);

/* Sets p on m and prints the choice on stderr. Returns 0, or EXIT_BAD_INPUT after printing why
 * bf16 is not available (asked for explicitly on a CPU or build without it), 1 on other errors. */
int cli_precision_apply(FtModel *m, FtPrecision p);
/* cli_precision_apply for a sentence-embedding model (ft_encoder_set_precision). */
int cli_precision_apply_encoder(FtEncoder *e, FtPrecision p);

#endif
