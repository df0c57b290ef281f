/* utf8_check.c: UTF-8 validation with an eight-bytes-at-a-time ASCII fast path. */
#include "utf8_check.h"

#include <stdlib.h>
#include <string.h>

#include <stdint.h>
#include <string.h>

#define ASCII_MASK 0x8080808080808080ull

size_t utf8_find_invalid(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!(w & ASCII_MASK)) {
                i += 8;
                continue;
            }
        }
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t len;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF)
            len = 2;
        else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0)
                lo = 0xA0; /* overlong */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates */
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0)
                lo = 0x90; /* overlong */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else
            return i;
        if (n - i < len) return i;
        if (s[i + 1] < lo || s[i + 1] > hi) return i;
        for (size_t k = 2; k < len; k++)
            if ((s[i + k] & 0xC0) != 0x80) return i;
        i += len;
    }
    return n;
}

size_t utf8_count_chars(const char *str, size_t n) {
    const unsigned char *s = (const unsigned char *)str;
    size_t count = 0;
    for (size_t i = 0; i < n; i++) count += (s[i] & 0xC0) != 0x80;
    return count;
}

char *utf8_repair(const char *s, size_t n, size_t *out_len) {
    char *out = malloc(3 * n + 1); /* each bad byte becomes 3 bytes */
    if (!out) return NULL;
    size_t o = 0;
    while (n > 0) {
        size_t ok = utf8_find_invalid(s, n);
        memcpy(out + o, s, ok);
        o += ok;
        if (ok == n) break;
        memcpy(out + o, "\xEF\xBF\xBD", 3);
        o += 3;
        s += ok + 1;
        n -= ok + 1;
    }
    out[o] = 0;
    if (out_len) *out_len = o;
    return out;
}
