/* main.c: command-line dispatch only. Each subcommand lives in src/cli/. */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "usage: ftune <command>\n");
    return 2;
}
