/* fuzz embedding_request: mutated JSON bodies of POST /v1/embeddings through the server's parser
 * (src/serve/embedding_request.h) under ASan/UBSan. Every body must be either accepted with 1 to
 * EMBEDDING_MAX_INPUTS inputs, each a non-empty text or a non-empty array of ids in 0..INT32_MAX,
 * or refused with an OpenAI-shaped error (a 4xx/5xx status, a type and a message). Usage:
 * build/fuzz_embedding_request [ITERATIONS] (default 2000). */
#include "fuzz_api.h"
#include "fuzz_util.h"
#include "serve/embedding_request.h"

#define SEED 0xe4bedu
#define BODY_MAX 4096

static const char *const SEEDS[] = {
    "{\"model\":\"all-MiniLM-L6-v2\",\"input\":\"Hello world\",\"encoding_format\":\"float\",\"user\":\"u\"}",
    "{\"model\":\"m\",\"input\":[\"a\",\"b c\",\"d\"],\"encoding_format\":\"base64\"}",
    "{\"model\":\"m\",\"input\":[101,2023,102],\"dimensions\":null}",
    "{\"model\":\"m\",\"input\":[[1,2],[3],[4,5,6]],\"encoding_format\":null,\"user\":null}",
};
#define N_SEEDS (sizeof SEEDS / sizeof SEEDS[0])

static void run(const char *body, size_t len) {
    EmbeddingRequest r;
    ApiError e = {0};
    if (embedding_request_parse(body, len, &r, &e) == 0) {
        bool ok = r.model && r.n_inputs >= 1 && r.n_inputs <= EMBEDDING_MAX_INPUTS && (!r.texts != !r.ids);
        for (int i = 0; ok && i < r.n_inputs; i++) {
            if (r.texts) {
                ok = r.texts[i] && r.text_lens[i] > 0;
            } else {
                ok = r.ids[i] && r.n_ids[i] > 0;
                for (int k = 0; ok && k < r.n_ids[i]; k++) ok = r.ids[i][k] >= 0;
            }
        }
        if (!ok) {
            fprintf(stderr, "accepted an embedding request out of range: %.*s\n", (int)len, body);
            exit(1);
        }
    } else {
        fuzz_check_api_error(&e);
    }
    embedding_request_free(&r);
}

int main(int argc, char **argv) { return fuzz_bodies(argc, argv, "fuzz_embedding_request", SEED, SEEDS, N_SEEDS, BODY_MAX, run); }
