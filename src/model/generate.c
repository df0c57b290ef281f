/* generate.c: prompt prefill, the sampling loop, stop handling and streamed detokenization. */
#include "generate.h"

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

int generate(InferState *st, const int32_t *prompt, int n_prompt, const GenParams *p, GenStreamFn stream,
             void *user, GenResult *res, Err *err) {
    memset(res, 0, sizeof *res);
    const Model *m = st->model;
    int vocab = m->cfg.vocab;
    if (n_prompt <= 0) return err_set(err, ERR_ARG, "the prompt is empty");
    if (n_prompt >= st->max_seq)
        return err_set(err, ERR_ARG, "the prompt has %d tokens, more than the context of %d allows", n_prompt, st->max_seq);
    Sampler sampler;
    if (sampler_init(&sampler, vocab, &p->sampling, err)) return -1;
    int budget = st->max_seq - n_prompt;
    if (p->max_tokens > 0 && p->max_tokens < budget) budget = p->max_tokens;
    int32_t *ids = malloc((size_t)(budget > 0 ? budget : 1) * sizeof(int32_t));
    if (!ids) {
        sampler_free(&sampler);
        return err_set(err, ERR_NOMEM, "out of memory");
    }
    infer_reset(st);
    int rc = infer_forward(st, prompt, n_prompt, NULL, err);
    res->n_prompt = n_prompt;
    res->finish = FINISH_LENGTH;
    char *text = NULL;
    size_t text_len = 0, emitted = 0;
    int n = 0;
    bool cut_short = false; /* ended by a stop string or by the stream callback */
    while (!rc && n < budget) {
        int32_t id = sampler_sample(&sampler, st->logits);
        res->n_completion++;
        if (is_stop_id(p, id)) {
            res->finish = FINISH_STOP;
            break;
        }
        ids[n++] = id;
        free(text);
        text = NULL;
        if ((rc = tok_decode(m->tok, ids, n, true, &text, &text_len, err))) break;
        /* a stop string ends the text where it begins */
        size_t cut = text_len;
        for (int i = 0; i < p->n_stop; i++) {
            const char *hit = p->stop[i][0] ? strstr(text, p->stop[i]) : NULL;
            if (hit && (size_t)(hit - text) < cut) cut = (size_t)(hit - text);
        }
        bool stopped = cut < text_len;
        size_t safe = stopped ? cut : text_len - partial_stop(text, text_len, p);
        safe -= incomplete_utf8(text, safe);
        if (safe > emitted && stream && stream(text + emitted, safe - emitted, user)) stopped = true;
        if (safe > emitted) emitted = safe;
        if (stopped) {
            text_len = cut < text_len ? cut : text_len;
            res->finish = FINISH_STOP;
            cut_short = true;
            break;
        }
        if (n < budget) rc = infer_forward(st, &id, 1, NULL, err);
    }
    /* what was held back (a possible stop-string prefix, an incomplete UTF-8 tail) is final now */
    if (!rc && !cut_short && text && emitted < text_len && stream) stream(text + emitted, text_len - emitted, user);
    sampler_free(&sampler);
    free(ids);
    if (rc) {
        free(text);
        return -1;
    }
    if (!text && !(text = calloc(1, 1))) return err_set(err, ERR_NOMEM, "out of memory");
    text[text_len] = 0;
    res->text = text;
    res->len = text_len;
    return 0;
}

int generate_chat(InferState *st, const ChatMessage *msgs, int n_msgs, const GenParams *p, GenStreamFn stream,
                  void *user, GenResult *res, Err *err) {
    const Model *m = st->model;
    char *prompt;
    size_t len;
    if (chat_template_render(m->tmpl, msgs, n_msgs, true, &prompt, &len, err)) return -1;
    int32_t *ids;
    int n;
    /* The rendered prompt spells special tokens as text; a template that adds BOS itself does so in
     * the text, so add_special only when the tokenizer adds BOS and the text does not start with it. */
    int32_t bos = tok_bos_id(m->tok);
    const char *bos_text = bos >= 0 ? tok_token_text(m->tok, bos) : NULL;
    bool add_special = tok_adds_bos(m->tok) && !(bos_text && strncmp(prompt, bos_text, strlen(bos_text)) == 0);
    int rc = tok_encode(m->tok, prompt, len, add_special, true, &ids, &n, err);
    free(prompt);
    if (rc) return -1;
    rc = generate(st, ids, n, p, stream, user, res, err);
    free(ids);
    return rc;
}
