/* cli_node.c: --node-id and --lease-seconds (see cli_node.h). */
#include "cli_node.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"

int cli_node_parse(const Args *a, const char *command, const char **node_id, int *lease_s) {
    long lease = 0;
    if (args_has(a, "lease-seconds") && args_int(a, "lease-seconds", &lease, 2, 86400)) return EXIT_BAD_INPUT;
    *lease_s = (int)lease;
    *node_id = args_get(a, "node-id");
    const char *id = *node_id;
    if (!id) return 0;
    size_t n = strlen(id);
    if (n == 0 || n > CLI_NODE_ID_MAX || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-") != n ||
        id[0] == '.') {
        fprintf(stderr,
                "ftune %s: --node-id \"%s\": expected 1 to %d letters, digits, '.', '_' or '-' (not starting with '.')\n",
                command, id, CLI_NODE_ID_MAX);
        return EXIT_BAD_INPUT;
    }
    return 0;
}
