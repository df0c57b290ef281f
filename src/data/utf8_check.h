/* utf8_check.h: finds the first byte of a buffer that is not valid UTF-8 (RFC 3629: no overlong
 * forms, no surrogates, nothing above U+10FFFF), quickly on ASCII, and repairs text for output
 * (invalid bytes become U+FFFD). It does not decode or normalise. */
#ifndef FTUNE_UTF8_CHECK_H
#define FTUNE_UTF8_CHECK_H

#include <stddef.h>

/* Returns the offset of the first invalid byte in s[0..n), or n when all of it is valid UTF-8.
 * A sequence cut off by the end of the buffer is invalid at its first byte. Thread-safe. */
size_t utf8_find_invalid(const char *s, size_t n);

/* Number of code points in s[0..n) (counts bytes that do not continue a sequence); s need not be
 * valid. */
size_t utf8_count_chars(const char *s, size_t n);

/* A heap copy of s[0..n) where every invalid byte is replaced by U+FFFD (so that it can go into
 * JSON), NUL-terminated; *out_len is its length. NULL when out of memory. */
char *utf8_repair(const char *s, size_t n, size_t *out_len);

#endif
