/* jsonl_reader.h: streams the lines of a JSONL file with their 1-based line numbers, through one
 * reused buffer, so memory stays flat however large the file. A UTF-8 byte-order mark at the start
 * of the file and a '\r' before each '\n' are removed. A line longer than the reader's limit is
 * skipped (its length is still reported) instead of being buffered. It does not parse JSON or
 * check UTF-8 (jdoc.h, utf8_check.h). */
#ifndef FTUNE_JSONL_READER_H
#define FTUNE_JSONL_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../core/err.h"

#define JSONL_CHUNK ((size_t)1 << 16) /* bytes read per read(2) call */

typedef struct JsonlReader JsonlReader;

typedef struct {
    char *text;    /* the line without its end (writable; text[len] == 0); NULL when too_long */
    size_t len;    /* bytes in the line (for a too-long line, all of them) */
    long number;   /* 1-based */
    bool too_long; /* longer than max_line: text is NULL */
    bool had_bom;  /* line 1 started with a UTF-8 BOM (removed) */
} JsonlLine;

/* Opens path for reading; max_line bounds the bytes of one line that are buffered. ERR_IO (naming
 * the file) when it cannot be opened or is not a regular file; ERR_NOMEM. Caller closes with
 * jsonl_close. A reader belongs to one thread. */
int jsonl_open(const char *path, size_t max_line, JsonlReader **out, Err *err);
void jsonl_close(JsonlReader *r); /* NULL is a no-op */

/* Size of the file when it was opened, in bytes. */
uint64_t jsonl_file_size(const JsonlReader *r);

/* Reads the next line into *line (valid until the next call). Returns 1 with a line, 0 at the end
 * of the file, -1 on a read error (ERR_IO naming the file). A final line without '\n' is a line;
 * the empty string after a final '\n' is not. */
int jsonl_next(JsonlReader *r, JsonlLine *line, Err *err);

#endif
