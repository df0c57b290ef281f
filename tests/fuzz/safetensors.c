/* fuzz safetensors: mutated safetensors files (header JSON and lengths) through the reader and
 * the fp32 conversion. Never crashes. */
#include "fuzz_util.h"
#include "model/safetensors.h"

int main(int argc, char **argv) {
    long iters = fuzz_iterations(argc, argv);
    const char *hdr = "{\"__metadata__\":{\"format\":\"pt\"},"
                      "\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]},"
                      "\"h\":{\"dtype\":\"F16\",\"shape\":[4],\"data_offsets\":[24,32]},"
                      "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,1,2],\"data_offsets\":[32,36]}}";
    size_t hl = strlen(hdr), len = 8 + hl + 36;
    unsigned char *orig = calloc(1, len), *buf = malloc(len + 64);
    unsigned long long hl64 = hl;
    memcpy(orig, &hl64, 8);
    memcpy(orig + 8, hdr, hl);
    char path[64];
    snprintf(path, sizeof path, "/tmp/ftune_fuzz_st_%d.safetensors", (int)getpid());
    Rng r;
    rng_seed(&r, 777);
    long ok = 0;
    for (long i = 0; i < iters; i++) {
        memcpy(buf, orig, len);
        size_t n = fuzz_mutate(&r, buf, len, len + 64, 8 + hl);
        fuzz_write(path, buf, n);
        SafeTensors *st;
        Err err = {0};
        if (st_open(path, &st, &err) == 0) {
            ok++;
            for (int t = 0; t < st_n_tensors(st); t++) {
                const StTensor *ten = st_tensor(st, t);
                float *out = malloc((ten->n_elements + 1) * sizeof(float));
                st_tensor_to_f32(ten, out, &err);
                free(out);
            }
            st_close(st);
        }
    }
    unlink(path);
    printf("fuzz safetensors: %ld inputs, %ld parsed\n", iters, ok);
    free(orig);
    free(buf);
    return 0;
}
