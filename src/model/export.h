/* export.h: a base model with a LoRA adapter merged into its weights (W + alpha/r B A), written
 * as a Hugging Face model directory: config.json, model.safetensors (fp32, Hugging Face tensor
 * names and row order), and the tokenizer files (copied from a Hugging Face source; written from
 * the GGUF metadata for a GGUF source: tokenizer.json via tok_export_hf, tokenizer_config.json with
 * the chat template, bos/eos). Every file is written crash-safely. */
#ifndef FTUNE_EXPORT_H
#define FTUNE_EXPORT_H

#include "lora.h"
#include "model.h"

/* lora may be NULL (the base model is written as it is). */
int model_export_merged(const Model *m, const Lora *lora, const char *out_dir, Err *err);

#endif
