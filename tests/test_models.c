/* test_models.c: see test_models.h. */
#include "test_models.h"

#include "test.h"

Model *test_load_stories260k(void) {
    const char *p = test_model("models/stories260K/stories260K.gguf", "stories260K.gguf");
    if (!p) {
        test_skip("stories260K.gguf not available");
        return NULL;
    }
    Model *m = NULL;
    Err err = {0};
    if (model_load(p, &m, &err)) test_fail(__FILE__, __LINE__, "%s", err.msg);
    return m;
}
