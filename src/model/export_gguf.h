/* export_gguf.h: GGUF files for llama.cpp, Ollama and LM Studio.
 *  - A LoRA adapter as llama.cpp's --lora and Ollama's ADAPTER read it (the layout of llama.cpp's
 *    convert_lora_to_gguf.py): general.type "adapter", adapter.type "lora", adapter.lora.alpha,
 *    general.architecture of the base, and per adapted projection blk.N.<attn_q|attn_k|attn_v|
 *    attn_output|ffn_gate|ffn_up|ffn_down>.weight.lora_a, GGML shape [in, r] (PEFT's A, (r, in)),
 *    and .lora_b, [r, out] (PEFT's B), in F32. For Llama-architecture bases the rows of q's and k's
 *    B are put in GGUF's interleaved-pair RoPE order, as the base's q/k rows are (Qwen2 keeps
 *    Hugging Face's order). llama.cpp scales by alpha / r, as PEFT and ftune do.
 *  - A base model with an adapter merged (W + alpha/r B A) in one type (F32, F16, Q8_0, Q4_0,
 *    Q4_K: every matrix, "pure"; a matrix whose rows do not fit the type's blocks falls back as
 *    llama.cpp's quantizer does: Q4_K to Q5_0, else F16; vectors stay F32). From a GGUF source every metadata key (architecture
 *    hyperparameters, tokenizer.ggml.*, tokenizer.chat_template, ...) is copied except the file
 *    type and alignment; from a Hugging Face folder the keys are written as llama.cpp's
 *    convert_hf_to_gguf.py writes them: hyperparameters from the configuration, the tokenizer by
 *    tok_export_gguf (byte-level BPE with a pre-tokenizer llama.cpp names; others refused), the
 *    chat template.
 * Both are written crash-safely; nothing is written when something is refused. */
#ifndef FTUNE_EXPORT_GGUF_H
#define FTUNE_EXPORT_GGUF_H

#include <stdint.h>

#include "lora.h"
#include "model.h"

int model_export_gguf_adapter(const Model *m, const Lora *lora, const char *out_path, Err *err);

/* type: QUANT_F32, QUANT_F16, QUANT_Q8_0, QUANT_Q4_0 or QUANT_Q4_K; lora may be NULL (the base
 * model requantized). */
int model_export_gguf_merged(const Model *m, const Lora *lora, uint32_t type, const char *out_path, Err *err);

/* The type named "f32", "f16", "q8_0", "q4_0" or "q4_k" (case aside); -1 with ERR_ARG naming the
 * accepted names otherwise. */
int export_gguf_type(const char *name, uint32_t *type, Err *err);

#endif
