/* cli.h: the subcommands behind `ftune <command>`. Each takes the arguments after its name and
 * returns the process exit status: 0 success, 1 the work failed, 2 bad input (arguments, files,
 * models). */
#ifndef FTUNE_CLI_H
#define FTUNE_CLI_H

#define EXIT_BAD_INPUT 2

int cmd_chat(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_alias(int argc, char **argv);
int cmd_keys(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_dataset(int argc, char **argv);
int cmd_worker(int argc, char **argv);

#endif
