/* record.c: `ftune eval --record`: a candidate's answers written as a held-out set, so that a
 * replacement model is judged against the original's answers (see eval_run.h). */
#include <stdlib.h>
#include <string.h>

#include "../core/fileio.h"
#include "eval_run.h"

int eval_record_write(const EvalSet *set, const EvalCandidate *c, const char *path, long *written, Err *err) {
    *written = 0;
    AtomicFile af;
    if (file_atomic_open(&af, path, err)) return -1;
    for (long i = 0; i < set->n && i < c->n_done; i++) {
        if (c->failed[i] || !c->predictions[i]) continue;
        json_t *msgs = json_copy(set->prompts[i]); /* shallow: the messages are shared, not changed */
        json_array_append_new(msgs, json_pack("{s:s, s:s}", "role", "assistant", "content", c->predictions[i]));
        json_t *line = json_pack("{s:o}", "messages", msgs);
        char *text = line ? json_dumps(line, JSON_COMPACT | JSON_ENSURE_ASCII) : NULL;
        json_decref(line);
        if (!text) {
            file_atomic_abort(&af);
            return err_set(err, ERR_NOMEM, "%s: out of memory (or an answer that is not UTF-8)", path);
        }
        file_atomic_write(&af, text, strlen(text));
        file_atomic_write(&af, "\n", 1);
        free(text);
        (*written)++;
    }
    return file_atomic_commit(&af, err);
}
