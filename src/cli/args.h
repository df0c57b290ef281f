/* args.h: a small command-line option reader shared by the subcommands: `--name value`,
 * `--name=value` and boolean `--flag`, positional arguments kept in order. Bad numbers are
 * reported with the option's name. It does not print usage (each command does). */
#ifndef FTUNE_ARGS_H
#define FTUNE_ARGS_H

#include <stdbool.h>

#define ARGS_MAX 64

typedef struct {
    const char *names[ARGS_MAX];  /* option names without the leading dashes (not terminated) */
    int name_lens[ARGS_MAX];
    const char *values[ARGS_MAX]; /* NULL for a flag */
    int n;
    const char *positional[ARGS_MAX];
    int n_positional;
} Args;

/* Parses argv[0..argc). flags lists the options that take no value (NULL-terminated); --help and
 * -h are always the flag "help", which args_check_known accepts for every command. Returns 0, or
 * -1 after printing what is wrong to stderr. */
int args_parse(Args *a, int argc, char **argv, const char *const *flags);
const char *args_get(const Args *a, const char *name); /* last value, or NULL */
bool args_has(const Args *a, const char *name);
/* Every value of a repeatable option, in order (at most max); returns their number. */
int args_all(const Args *a, const char *name, const char **out, int max);
/* Numeric getters: return 0 and set *out (left alone when absent), or -1 after printing an error. */
int args_int(const Args *a, const char *name, long *out, long min, long max);
int args_float(const Args *a, const char *name, double *out, double min, double max);
/* The common start of every command: parses argv with flags, rejects options not in allowed, and
 * answers --help. Returns 0 to go on; otherwise the command returns *status: 0 after printing
 * usage for --help, 2 (bad input) after printing the problem and usage. */
int args_parse_command(Args *a, int argc, char **argv, const char *cmd, const char *const *flags,
                       const char *const *allowed, void (*usage)(void), int *status);

/* Reports options that the command does not know (allowed is NULL-terminated); -1 if any. */
int args_check_known(const Args *a, const char *cmd, const char *const *allowed);

#endif
