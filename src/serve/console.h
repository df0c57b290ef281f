/* console.h: the web console (the .html, .css and .js files of src/console), embedded in the
 * binary at build time (scripts/embed_console.sh writes build/gen/console_assets.c) and served
 * without a key by routes_console.c: GET / (index.html) and GET /console/NAME. The pages call the /v1 API with the key the
 * user enters; they hold no data of their own. */
#ifndef FTUNE_CONSOLE_H
#define FTUNE_CONSOLE_H

#include <stddef.h>

typedef struct {
    const char *name;           /* base name, e.g. "console.js" */
    const unsigned char *data;
    size_t len;
    const char *etag;           /* quoted: "\"0123456789abcdef\"" */
} ConsoleAsset;

extern const ConsoleAsset CONSOLE_ASSETS[];
extern const int CONSOLE_N_ASSETS;

#endif
