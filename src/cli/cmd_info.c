/* cmd_info.c: `ftune info`: what a model file is: architecture, shape, parameter count, stored
 * tensor types, chat template and special tokens. */
#include <stdio.h>
#include <string.h>

#include "../model/model.h"
#include "args.h"
#include "cli.h"

static const char *const INFO_OPTIONS[] = {"model", NULL};

static void print_token(const char *label, const Tokenizer *tok, int32_t id) {
    if (id >= 0) printf("%-18s %d %s\n", label, id, tok_token_text(tok, id));
    else printf("%-18s none\n", label);
}

static void usage(void) {
    fprintf(stderr, "usage: ftune info --model PATH\n"
                    "Describes a model: architecture, shape, parameters, tensor types, chat template and\n"
                    "special tokens.\n");
}

int cmd_info(int argc, char **argv) {
    Args a;
    int status;
    if (args_parse_command(&a, argc, argv, "info", NULL, INFO_OPTIONS, usage, &status)) return status;
    if (!args_get(&a, "model") || a.n_positional) {
        usage();
        return EXIT_BAD_INPUT;
    }
    Err err = {0};
    Model *m;
    if (model_load(args_get(&a, "model"), &m, &err)) {
        fprintf(stderr, "ftune info: %s\n", err.msg);
        return EXIT_BAD_INPUT;
    }
    const ModelConfig *c = &m->cfg;
    printf("%-18s %s\n", "path", m->path);
    printf("%-18s %s\n", "format", m->format);
    printf("%-18s %s\n", "architecture", model_arch_name(c->arch));
    printf("%-18s %zu (%.1fM)\n", "parameters", m->n_params, m->n_params / 1e6);
    printf("%-18s %d\n", "layers", c->n_layer);
    printf("%-18s %d\n", "hidden size", c->dim);
    printf("%-18s %d query, %d key/value, head dim %d\n", "attention heads", c->n_head, c->n_kv_head, c->head_dim);
    printf("%-18s %d\n", "ffn size", c->ffn_dim);
    printf("%-18s %d\n", "vocabulary", c->vocab);
    printf("%-18s %d\n", "context length", c->max_seq);
    printf("%-18s %g%s\n", "rope theta", c->rope_theta, c->has_rope_factors ? " (with frequency factors)" : "");
    printf("%-18s %g\n", "rms norm eps", c->rms_eps);
    printf("%-18s %s\n", "output head", c->tied_embeddings ? "tied to the embeddings" : "separate");
    printf("%-18s %s\n", "q/k/v bias", c->qkv_bias ? "yes" : "no");
    printf("%-18s %s\n", "tensor types", m->tensor_types);
    printf("%-18s %s (%d tokens)\n", "tokenizer", tok_model_name(m->tok), tok_vocab_size(m->tok));
    print_token("bos", m->tok, tok_bos_id(m->tok));
    print_token("eos", m->tok, tok_eos_id(m->tok));
    const char *eot = chat_template_end_of_turn(m->tmpl);
    print_token("end of turn", m->tok, eot ? tok_find_token(m->tok, eot) : -1);
    printf("%-18s %s (%s)\n", "chat template", chat_template_kind_name(chat_template_kind(m->tmpl)),
           chat_template_variant(m->tmpl));
    if (m->text->template_warning) printf("%-18s %s\n", "template warning", m->text->template_warning);
    model_free(m);
    return 0;
}
