/* generate.c: prompt prefill, the sampling loop, stop handling and streamed detokenization. */
#include "generate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void gen_params_default(const Model *m, GenParams *p) {
    memset(p, 0, sizeof *p);
    p->max_tokens = 256;
    p->sampling.temperature = 0;
    p->sampling.top_p = 1;
    int32_t eos = tok_eos_id(m->tok);
    if (eos >= 0) p->stop_ids[p->n_stop_ids++] = eos;
    const char *eot = chat_template_end_of_turn(m->tmpl);
    int32_t eot_id = eot ? tok_find_token(m->tok, eot) : -1;
    if (eot_id >= 0 && eot_id != eos) p->stop_ids[p->n_stop_ids++] = eot_id;
    const char *eom = chat_template_end_of_message(m->tmpl);
    int32_t eom_id = eom ? tok_find_token(m->tok, eom) : -1;
    if (eom_id >= 0 && eom_id != eos && eom_id != eot_id) p->stop_ids[p->n_stop_ids++] = eom_id;
}

void gen_result_free(GenResult *r) {
    if (!r) return;
    free(r->text);
    r->text = NULL;
}

/* Length of the longest suffix of text[0..len) that is a proper prefix of a stop string. */
static size_t partial_stop(const char *text, size_t len, const GenParams *p) {
    size_t best = 0;
    for (int i = 0; i < p->n_stop; i++) {
        size_t sl = strlen(p->stop[i]);
        for (size_t k = sl > 1 ? sl - 1 : 0; k > best; k--)
            if (k <= len && memcmp(text + len - k, p->stop[i], k) == 0) {
                best = k;
                break;
            }
    }
    return best;
}

/* Bytes at the end of text that form an incomplete UTF-8 sequence. */
static size_t incomplete_utf8(const char *text, size_t len) {
    for (size_t back = 1; back <= 4 && back <= len; back++) {
        unsigned char c = (unsigned char)text[len - back];
        if ((c & 0xC0) == 0x80) continue; /* continuation byte */
        size_t need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
        return need > back ? back : 0;
    }
    return 0;
}

static bool is_stop_id(const GenParams *p, int32_t id) {
    for (int i = 0; i < p->n_stop_ids; i++)
        if (p->stop_ids[i] == id) return true;
    return false;
}

void gen_seq_free(GenSeq *g) {
    if (!g) return;
    sampler_free(&g->sampler);
    free(g->ids);
    free(g->text);
    free(g->logprobs);
    free(g->adjusted);
    free(g->counts);
    matcher_free(g->matcher);
    free(g->allowed);
    free(g->masked);
    memset(g, 0, sizeof *g);
}

int gen_seq_init(GenSeq *g, const Model *m, const GenParams *p, int n_prompt, int n_ctx, Err *err) {
    memset(g, 0, sizeof *g);
    if (n_prompt <= 0) return err_set(err, ERR_ARG, "the prompt is empty");
    if (n_prompt >= n_ctx)
        return err_set(err, ERR_ARG, "the prompt has %d tokens, more than the context of %d allows", n_prompt, n_ctx);
    if (p->top_logprobs < 0 || p->top_logprobs > GEN_MAX_TOP_LOGPROBS)
        return err_set(err, ERR_ARG, "top_logprobs must be between 0 and %d, got %d", GEN_MAX_TOP_LOGPROBS,
                       p->top_logprobs);
    int room = n_ctx - n_prompt;
    if (!(p->frequency_penalty >= -2 && p->frequency_penalty <= 2) ||
        !(p->presence_penalty >= -2 && p->presence_penalty <= 2))
        return err_set(err, ERR_ARG, "penalties must be between -2 and 2, got %g and %g", p->frequency_penalty,
                       p->presence_penalty);
    for (int i = 0; i < p->n_bias; i++) {
        if (p->bias_ids[i] < 0 || p->bias_ids[i] >= m->cfg.vocab)
            return err_set(err, ERR_ARG, "logit_bias names token %d, outside the vocabulary (%d)", p->bias_ids[i],
                           m->cfg.vocab);
        if (!(p->bias_values[i] >= -100 && p->bias_values[i] <= 100))
            return err_set(err, ERR_ARG, "logit_bias of token %d is %g, outside -100..100", p->bias_ids[i],
                           p->bias_values[i]);
    }
    if (sampler_init(&g->sampler, m->cfg.vocab, &p->sampling, err)) return -1;
    bool penalties = p->frequency_penalty != 0 || p->presence_penalty != 0;
    g->m = m;
    g->p = *p;
    g->budget = p->max_tokens > 0 && p->max_tokens < room ? p->max_tokens : room;
    g->ids = malloc((size_t)g->budget * sizeof(int32_t));
    g->logprobs = p->logprobs ? malloc((size_t)g->budget * sizeof(TokenLogprob)) : NULL;
    g->adjusted = penalties || p->n_bias ? malloc((size_t)m->cfg.vocab * sizeof(float)) : NULL;
    g->counts = penalties ? calloc((size_t)m->cfg.vocab, sizeof(int32_t)) : NULL;
    if (!g->ids || (p->logprobs && !g->logprobs) || ((penalties || p->n_bias) && !g->adjusted) ||
        (penalties && !g->counts)) {
        gen_seq_free(g);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    if (p->grammar) {
        if (!p->trie || p->trie->vocab != m->cfg.vocab) {
            gen_seq_free(g);
            return err_set(err, ERR_ARG, "a grammar needs the model's token tree");
        }
        if (matcher_new(p->grammar, p->trie, &g->matcher, err)) {
            gen_seq_free(g);
            return -1;
        }
        g->allowed = malloc(((size_t)m->cfg.vocab + 63) / 64 * sizeof *g->allowed);
        g->masked = malloc((size_t)m->cfg.vocab * sizeof *g->masked);
        if (!g->allowed || !g->masked) {
            gen_seq_free(g);
            return err_set(err, ERR_NOMEM, "out of memory");
        }
    }
    g->n_prompt = n_prompt;
    g->finish = FINISH_LENGTH;
    return 0;
}

static inline bool allowed_id(const uint64_t *allowed, int32_t id) { return (allowed[id >> 6] >> (id & 63)) & 1; }

/* The step's token mask into g->allowed: the tokens the grammar allows next, and the stop tokens
 * when the reply is a complete value. Returns how many, -1 on error. */
static int grammar_mask(GenSeq *g, Err *err) {
    int n = matcher_mask(g->matcher, g->allowed, err);
    if (n < 0 || !matcher_accepting(g->matcher)) return n;
    for (int i = 0; i < g->p.n_stop_ids; i++) {
        int32_t id = g->p.stop_ids[i];
        if (!allowed_id(g->allowed, id)) n++;
        g->allowed[id >> 6] |= 1ull << (id & 63);
    }
    return n;
}

/* logits with -inf where the mask refuses, into g->masked. */
static const float *mask_logits(GenSeq *g, const float *logits) {
    int vocab = g->m->cfg.vocab;
    for (int i = 0; i < vocab; i++) g->masked[i] = allowed_id(g->allowed, i) ? logits[i] : -INFINITY;
    return g->masked;
}

/* The log-probability of id under logits (vocab), and the k most likely tokens with theirs. */
static void token_logprob(const float *logits, int vocab, int32_t id, int k, TokenLogprob *out) {
    float mx = logits[sampler_argmax(logits, vocab)];
    double sum = 0;
    for (int i = 0; i < vocab; i++) sum += exp((double)logits[i] - mx);
    double lse = mx + log(sum);
    out->id = id;
    out->logprob = (float)(logits[id] - lse);
    out->n_top = 0;
    for (int i = 0; i < vocab && k > 0; i++) { /* insertion into the k best, highest first, lowest id on ties */
        if (logits[i] == -INFINITY) continue;                   /* a token a grammar refuses */
        int at = out->n_top;
        while (at > 0 && logits[i] > logits[out->top[at - 1].id]) at--;
        if (at >= k) continue;
        int last = out->n_top < k ? out->n_top++ : k - 1;
        memmove(&out->top[at + 1], &out->top[at], (size_t)(last - at) * sizeof out->top[0]);
        out->top[at] = (TopLogprob){i, 0};
    }
    for (int j = 0; j < out->n_top; j++) out->top[j].logprob = (float)(logits[out->top[j].id] - lse);
}

/* The logits to sample from: logits with OpenAI's frequency and presence penalties (on the tokens
 * generated so far) and the logit biases applied, or logits itself when none is set. */
static const float *adjusted_logits(GenSeq *g, const float *logits) {
    if (!g->adjusted) return logits;
    memcpy(g->adjusted, logits, (size_t)g->m->cfg.vocab * sizeof(float));
    for (int i = 0; g->counts && i < g->n; i++) { /* each distinct generated token once: */
        int32_t t = g->ids[i];
        if (g->counts[t] <= 0) continue;
        g->adjusted[t] -= g->counts[t] * g->p.frequency_penalty + g->p.presence_penalty;
        g->counts[t] = -g->counts[t]; /* marked done */
    }
    for (int i = 0; g->counts && i < g->n; i++)
        if (g->counts[g->ids[i]] < 0) g->counts[g->ids[i]] = -g->counts[g->ids[i]];
    for (int i = 0; i < g->p.n_bias; i++) g->adjusted[g->p.bias_ids[i]] += g->p.bias_values[i];
    return g->adjusted;
}

int gen_seq_step(GenSeq *g, const float *logits, GenStreamFn stream, void *user, int32_t *next, Err *err) {
    if (g->done) return 1;
    const float *sample_from = adjusted_logits(g, logits);
    if (g->matcher) {
        int n_allowed = grammar_mask(g, err);
        if (n_allowed < 0) return -1;
        if (n_allowed == 0) { /* no token can continue the value (a vocabulary without some bytes) */
            g->done = true;
            return 1;
        }
        sample_from = mask_logits(g, sample_from);
    }
    int32_t id = sampler_sample(&g->sampler, sample_from);
    if (g->matcher && !allowed_id(g->allowed, id)) id = sampler_argmax(sample_from, g->m->cfg.vocab); /* rounding */
    g->n_completion++;
    if (is_stop_id(&g->p, id)) {
        g->finish = FINISH_STOP;
        g->done = true;
        return 1;
    }
    if (g->logprobs)
        token_logprob(g->matcher ? mask_logits(g, logits) : logits, g->m->cfg.vocab, id, g->p.top_logprobs,
                      &g->logprobs[g->n_logprobs++]);
    if (g->matcher) {
        const VocabTrie *t = g->p.trie;
        int rc = matcher_advance(g->matcher, t->text + t->off[id], t->len[id], err);
        if (rc) return rc < 0 ? -1 : err_set(err, ERR_ARG, "token %d was sampled but the grammar refuses it", id);
    }
    g->ids[g->n++] = id;
    if (g->counts) g->counts[id]++;
    free(g->text);
    g->text = NULL;
    if (tok_decode(g->m->tok, g->ids, g->n, true, &g->text, &g->text_len, err)) return -1;
    /* a stop string ends the text where it begins */
    size_t cut = g->text_len;
    for (int i = 0; i < g->p.n_stop; i++) {
        const char *hit = g->p.stop[i][0] ? strstr(g->text, g->p.stop[i]) : NULL;
        if (hit && (size_t)(hit - g->text) < cut) cut = (size_t)(hit - g->text);
    }
    bool stopped = cut < g->text_len;
    size_t safe = stopped ? cut : g->text_len - partial_stop(g->text, g->text_len, &g->p);
    safe -= incomplete_utf8(g->text, safe);
    if (safe > g->emitted && stream && stream(g->text + g->emitted, safe - g->emitted, user)) stopped = true;
    if (safe > g->emitted) g->emitted = safe;
    if (stopped) {
        g->text_len = cut;
        g->finish = FINISH_STOP;
        g->cut_short = true;
        g->done = true;
        return 1;
    }
    if (g->matcher && matcher_finished(g->matcher)) { /* a complete value that nothing may follow */
        g->finish = FINISH_STOP;
        g->done = true;
        return 1;
    }
    if (g->n >= g->budget) {
        g->done = true;
        return 1;
    }
    *next = id;
    return 0;
}

int gen_seq_finish(GenSeq *g, GenStreamFn stream, void *user, GenResult *res, Err *err) {
    memset(res, 0, sizeof *res);
    /* what was held back (a possible stop-string prefix, an incomplete UTF-8 tail) is final now */
    if (!g->cut_short && g->text && g->emitted < g->text_len && stream) {
        stream(g->text + g->emitted, g->text_len - g->emitted, user);
        g->emitted = g->text_len;
    }
    char *text = g->text;
    if (!text && !(text = calloc(1, 1))) return err_set(err, ERR_NOMEM, "out of memory");
    text[g->text_len] = 0;
    g->text = NULL;
    *res = (GenResult){text, g->text_len, g->n_prompt, g->n_completion, g->finish};
    return 0;
}

int generate(InferState *st, const int32_t *prompt, int n_prompt, const GenParams *p, GenStreamFn stream,
             void *user, GenResult *res, Err *err) {
    memset(res, 0, sizeof *res);
    GenSeq g;
    if (gen_seq_init(&g, st->model, p, n_prompt, st->max_seq, err)) return -1;
    infer_reset(st);
    int rc = infer_forward(st, prompt, n_prompt, NULL, err);
    int32_t next;
    while (!rc && !(rc = gen_seq_step(&g, st->logits, stream, user, &next, err))) rc = infer_step(st, next, err);
    if (rc > 0) rc = gen_seq_finish(&g, stream, user, res, err);
    gen_seq_free(&g);
    return rc;
}

int chat_prompt_ids(const Model *m, const ChatMessage *msgs, int n_msgs, const char *const *tools, int n_tools,
                    int32_t **ids, int *n, Err *err) {
    char *prompt;
    size_t len;
    if (chat_template_render_tools(m->tmpl, msgs, n_msgs, tools, n_tools, true, &prompt, &len, err)) return -1;
    /* The rendered prompt spells special tokens as text; a template that adds BOS itself does so in
     * the text, so add_special only when the tokenizer adds BOS and the text does not start with it. */
    int32_t bos = tok_bos_id(m->tok);
    const char *bos_text = bos >= 0 ? tok_token_text(m->tok, bos) : NULL;
    bool add_special = tok_adds_bos(m->tok) && !(bos_text && strncmp(prompt, bos_text, strlen(bos_text)) == 0);
    int rc = tok_encode(m->tok, prompt, len, add_special, true, ids, n, err);
    free(prompt);
    return rc;
}

int generate_chat(InferState *st, const ChatMessage *msgs, int n_msgs, const GenParams *p, GenStreamFn stream,
                  void *user, GenResult *res, Err *err) {
    int32_t *ids;
    int n;
    if (chat_prompt_ids(st->model, msgs, n_msgs, NULL, 0, &ids, &n, err)) return -1;
    int rc = generate(st, ids, n, p, stream, user, res, err);
    free(ids);
    return rc;
}
