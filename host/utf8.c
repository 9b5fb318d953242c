/*
 * utf8.c - strict UTF-8 validator (see ifs_utf8.h).
 *
 * Most of what we validate is ASCII English, so the loop first skips eight
 * ASCII bytes at a time (one load, one mask test) and only walks multi-byte
 * sequences byte by byte. The tables of valid second bytes follow RFC 3629
 * section 4, which is what rules out overlongs and surrogates.
 */
#include "ifs_utf8.h"

#include <stdint.h>
#include <string.h>

size_t ifs_utf8_check(const char *str, size_t len)
{
    const unsigned char *s = (const unsigned char *)str;
    size_t i = 0;
    while (i < len) {
        /* ASCII fast path, eight bytes per step. memcpy keeps it alignment-safe. */
        while (i + 8 <= len) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (w & 0x8080808080808080ull)
                break;
            i += 8;
        }
        if (i >= len)
            break;
        unsigned c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
        if (c >= 0xC2 && c <= 0xDF) {
            need = 1;
        } else if (c >= 0xE0 && c <= 0xEF) {
            need = 2;
            if (c == 0xE0)
                lo = 0xA0; /* overlong below U+0800 */
            else if (c == 0xED)
                hi = 0x9F; /* surrogates U+D800..U+DFFF */
        } else if (c >= 0xF0 && c <= 0xF4) {
            need = 3;
            if (c == 0xF0)
                lo = 0x90; /* overlong below U+10000 */
            else if (c == 0xF4)
                hi = 0x8F; /* above U+10FFFF */
        } else {
            return i; /* 0x80..0xC1 (continuation / overlong lead) or 0xF5..0xFF */
        }
        if (len - i <= need)
            return i; /* truncated sequence */
        if (s[i + 1] < lo || s[i + 1] > hi)
            return i;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xC0) != 0x80)
                return i;
        i += need + 1;
    }
    return len;
}
