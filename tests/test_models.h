/* test_models.h: loading the real test models once per test, skipping cleanly when a model is
 * not there (e.g. ../shared absent and models/ not fetched). */
#ifndef FTUNE_TEST_MODELS_H
#define FTUNE_TEST_MODELS_H

#include "model/model.h"

/* stories260K (llama, SentencePiece): NULL after test_skip when unavailable, or after test_fail
 * when it does not load. */
Model *test_load_stories260k(void);

#endif
