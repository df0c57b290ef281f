/* peft.h: LoRA adapters on disk in the Hugging Face PEFT layout, so that PEFT, vLLM and others
 * load what ftune trains and ftune loads what they train: a directory with adapter_config.json
 * (peft_type LORA, r, lora_alpha, lora_dropout, target_modules, ...) and
 * adapter_model.safetensors with keys
 * base_model.model.model.layers.<N>.<self_attn|mlp>.<proj>.lora_A.weight (r, in) / lora_B.weight
 * (out, r). Writes are crash-safe. Optimizer state is not part of an adapter (see checkpoints). */
#ifndef FTUNE_PEFT_H
#define FTUNE_PEFT_H

#include "model.h"
#include "lora.h"

/* Writes l into dir (created if missing). base_model is recorded as base_model_name_or_path. */
int peft_save(const Lora *l, const char *dir, const char *base_model, Err *err);

/* Reads the adapter in dir for model m: ERR_FORMAT/ERR_IO naming the file and the key for a
 * missing or misshapen tensor, ERR_UNSUPPORTED for options ftune does not implement
 * (rank_pattern, alpha_pattern, fan_in_fan_out, DoRA, bias other than "none"). */
int peft_load(const Model *m, const char *dir, Lora **out, Err *err);

#endif
