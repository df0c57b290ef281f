/* cmd_info.c: `ftune info`: what a model file is: architecture, shape, parameter count, stored
 * tensor types, chat template and special tokens. A client of the public engine API (ftune.h);
 * `--gguf FILE` lists any GGUF file's keys and tensors instead (info_gguf.c). */
#include <stdio.h>
#include <string.h>

#include "../ftune.h"
#include "args.h"
#include "cli.h"
#include "info_gguf.h"

static const char *const INFO_OPTIONS[] = {"model", "gguf", NULL};

static void print_token(const char *label, const FtModel *m, int32_t id) {
    if (id >= 0) printf("%-18s %d %s\n", label, id, ft_token_text(m, id));
    else printf("%-18s none\n", label);
}

static void usage(void) {
    fprintf(stderr, "usage: ftune info --model PATH\n"
                    "       ftune info --gguf FILE\n"
                    "Describes a model: architecture, shape, parameters, tensor types, chat template and\n"
                    "special tokens. --gguf lists a GGUF file's metadata keys and tensors (type, shape, SHA-256\n"
                    "of the stored bytes and of the values as fp32), adapters included.\n");
}

int cmd_info(int argc, char **argv) {
    Args a;
    int status;
    if (args_parse_command(&a, argc, argv, "info", NULL, INFO_OPTIONS, usage, &status)) return status;
    if (args_get(&a, "gguf") && !args_get(&a, "model") && !a.n_positional) return info_gguf(args_get(&a, "gguf"));
    if (!args_get(&a, "model") || a.n_positional) {
        usage();
        return EXIT_BAD_INPUT;
    }
    FtError err = {0};
    FtModel *m;
    if (ft_model_load(args_get(&a, "model"), &m, &err)) {
        fprintf(stderr, "ftune info: %s\n", err.msg);
        return EXIT_BAD_INPUT;
    }
    FtModelInfo c;
    ft_model_info(m, &c);
    printf("%-18s %s\n", "path", c.path);
    printf("%-18s %s\n", "format", c.format);
    printf("%-18s %s\n", "architecture", c.architecture);
    printf("%-18s %zu (%.1fM)\n", "parameters", c.n_params, c.n_params / 1e6);
    printf("%-18s %d\n", "layers", c.n_layer);
    printf("%-18s %d\n", "hidden size", c.hidden_size);
    printf("%-18s %d query, %d key/value, head dim %d\n", "attention heads", c.n_head, c.n_kv_head, c.head_dim);
    printf("%-18s %d\n", "ffn size", c.ffn_size);
    printf("%-18s %d\n", "vocabulary", c.vocab);
    printf("%-18s %d\n", "context length", c.context_length);
    printf("%-18s %g%s\n", "rope theta", c.rope_theta, c.has_rope_factors ? " (with frequency factors)" : "");
    printf("%-18s %g\n", "rms norm eps", c.rms_eps);
    printf("%-18s %s\n", "output head", c.tied_embeddings ? "tied to the embeddings" : "separate");
    printf("%-18s %s\n", "q/k/v bias", c.qkv_bias ? "yes" : "no");
    printf("%-18s %s\n", "tensor types", c.tensor_types);
    printf("%-18s %s (%d tokens)\n", "tokenizer", c.tokenizer, c.tokenizer_vocab);
    print_token("bos", m, c.bos_id);
    print_token("eos", m, c.eos_id);
    print_token("end of turn", m, c.end_of_turn_id);
    printf("%-18s %s (%s)\n", "chat template", c.chat_template, c.chat_template_variant);
    if (c.template_warning) printf("%-18s %s\n", "template warning", c.template_warning);
    ft_model_free(m);
    return 0;
}
