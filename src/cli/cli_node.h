/* cli_node.h: the options of a process that shares a data directory and a database with others
 * (`ftune serve` and `ftune worker`): --node-id NAME (its worker id, and with PostgreSQL its own
 * directory <data>/nodes/NAME; default: the host's name) and --lease-seconds N (how long a job it
 * trains stays its own after its last heartbeat). */
#ifndef FTUNE_CLI_NODE_H
#define FTUNE_CLI_NODE_H

#include "args.h"

#define CLI_NODE_OPTIONS "node-id", "lease-seconds"
#define CLI_NODE_USAGE "[--node-id NAME] [--lease-seconds N]"
#define CLI_NODE_ID_MAX 64

/* *node_id (NULL when absent) and *lease_s (0 when absent: the default). Returns 0, or
 * EXIT_BAD_INPUT after printing what is wrong (an id that is empty, longer than CLI_NODE_ID_MAX
 * or has characters other than letters, digits, '.', '_' and '-'; a lease outside 2..86400). */
int cli_node_parse(const Args *a, const char *command, const char **node_id, int *lease_s);

#endif
