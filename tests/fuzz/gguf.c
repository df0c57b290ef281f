/* fuzz gguf: mutated copies of the real stories260K.gguf through the GGUF reader and the whole
 * model loader (config checks, dequantization, tokenizer from metadata). Never crashes. */
#include "fuzz_util.h"
#include "core/fileio.h"
#include "model/gguf.h"
#include "model/model.h"

int main(int argc, char **argv) {
    long iters = fuzz_iterations(argc, argv);
    const char *src = access("../shared/models/stories260K/stories260K.gguf", R_OK) == 0
                          ? "../shared/models/stories260K/stories260K.gguf" : "models/stories260K.gguf";
    char *orig;
    size_t len;
    Err err = {0};
    if (file_read_all(src, 1u << 24, &orig, &len, &err)) {
        printf("fuzz gguf: skipped (%s)\n", err.msg);
        return 0;
    }
    unsigned char *buf = malloc(len + 64);
    char path[64];
    snprintf(path, sizeof path, "/tmp/ftune_fuzz_gguf_%d.gguf", (int)getpid());
    Rng r;
    rng_seed(&r, 12345);
    long loaded = 0;
    for (long i = 0; i < iters; i++) {
        memcpy(buf, orig, len);
        size_t n = fuzz_mutate(&r, buf, len, len + 64, 24 * 1024);
        fuzz_write(path, buf, n);
        Gguf *g;
        if (gguf_open(path, &g, &err) == 0) {
            for (int t = 0; t < gguf_n_tensors(g); t++) {
                const GgufTensor *ten = gguf_tensor(g, t);
                if (ten->n_elements < (1u << 20)) {
                    float *out = malloc(ten->n_elements * sizeof(float));
                    gguf_tensor_to_f32(ten, out, &err);
                    free(out);
                }
            }
            gguf_close(g);
        }
        if (i % 4 == 0) {
            Model *m;
            if (model_load(path, &m, &err) == 0) {
                loaded++;
                model_free(m);
            }
        }
    }
    unlink(path);
    printf("fuzz gguf: %ld inputs, %ld still loaded as models\n", iters, loaded);
    free(buf);
    free(orig);
    return 0;
}
