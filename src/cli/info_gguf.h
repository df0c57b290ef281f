/* info_gguf.h: `ftune info --gguf FILE` (info_gguf.c). */
#ifndef FTUNE_INFO_GGUF_H
#define FTUNE_INFO_GGUF_H

/* Prints path's keys and tensors; returns the command's exit status. */
int info_gguf(const char *path);

#endif
