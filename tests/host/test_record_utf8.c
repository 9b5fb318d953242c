/*
 * test_record_utf8.c - the strict UTF-8 validator records rely on: a table of
 * boundary cases with the offset it must return, then every 1-, 2- and 3-byte
 * sequence and every 4-byte lead/second-byte pair checked against a decoder
 * written from RFC 3629's definition (decode, then refuse overlongs,
 * surrogates and values above U+10FFFF), in the middle of ASCII so the
 * eight-byte fast path is crossed at every alignment.
 */
#include "ifs_utf8.h"
#include "ifs_test.h"

#include <string.h>

/* Reference: is s[0..n) exactly one valid UTF-8 scalar value? */
static int ref_one(const unsigned char *s, size_t n)
{
    unsigned long cp;
    size_t need;
    if (n == 0)
        return 0;
    if (s[0] < 0x80) {
        cp = s[0];
        need = 1;
    } else if ((s[0] & 0xE0) == 0xC0) {
        cp = s[0] & 0x1F;
        need = 2;
    } else if ((s[0] & 0xF0) == 0xE0) {
        cp = s[0] & 0x0F;
        need = 3;
    } else if ((s[0] & 0xF8) == 0xF0) {
        cp = s[0] & 0x07;
        need = 4;
    } else {
        return 0;
    }
    if (n != need)
        return 0;
    for (size_t k = 1; k < need; k++) {
        if ((s[k] & 0xC0) != 0x80)
            return 0;
        cp = cp << 6 | (s[k] & 0x3F);
    }
    static const unsigned long min_for[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for[need] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return 1;
}

static void boundary_table_gives_the_first_bad_offset(void)
{
    static const struct {
        const char *name;
        const char *s;
        size_t len, want;
    } cases[] = {
        {"empty", "", 0, 0},
        {"ascii", "hello world, longer than eight", 30, 30},
        {"u007f", "\x7f", 1, 1},
        {"u0080", "\xc2\x80", 2, 2},
        {"u07ff", "\xdf\xbf", 2, 2},
        {"u0800", "\xe0\xa0\x80", 3, 3},
        {"uffff", "\xef\xbf\xbf", 3, 3},
        {"u10000", "\xf0\x90\x80\x80", 4, 4},
        {"u10ffff", "\xf4\x8f\xbf\xbf", 4, 4},
        {"above_u10ffff", "ab\xf4\x90\x80\x80", 6, 2},
        {"lead_f5", "abc\xf5\x80\x80\x80", 7, 3},
        {"overlong_slash", "\xc0\xaf", 2, 0},
        {"overlong_c1", "x\xc1\xbf", 3, 1},
        {"overlong_3byte", "\xe0\x9f\xbf", 3, 0},
        {"overlong_4byte", "\xf0\x8f\xbf\xbf", 4, 0},
        {"surrogate_d800", "ok\xed\xa0\x80", 5, 2},
        {"surrogate_dfff", "\xed\xbf\xbf", 3, 0},
        {"just_below_surrogates", "\xed\x9f\xbf", 3, 3},
        {"lone_continuation", "abcdefgh\x80", 9, 8},
        {"truncated_at_end", "abcdefghij\xe2\x82", 12, 10},
        {"truncated_then_ascii", "\xe2\x82z", 3, 0},
        {"ff_byte", "\xff", 1, 0},
        {"nul_is_valid", "a\0b", 3, 3},
        {"bad_after_long_ascii_run", "0123456789abcdef0123456789\xfe", 27, 26},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t got = ifs_utf8_check(cases[i].s, cases[i].len);
        IFS_CHECK(got == cases[i].want, "%s: got %zu, want %zu", cases[i].name, got, cases[i].want);
    }
    IFS_CHECK(ifs_utf8_check(NULL, 0) == 0, "NULL with length 0");
}

/* Check one sequence placed after `pre` ASCII bytes and before 9 more. */
static int agrees(const unsigned char *seq, size_t n, size_t pre)
{
    unsigned char buf[32];
    memset(buf, 'a', sizeof buf);
    memcpy(buf + pre, seq, n);
    size_t total = pre + n + 9;
    size_t got = ifs_utf8_check((const char *)buf, total);
    size_t want = ref_one(seq, n) ? total : pre;
    /* a sequence the reference refuses may still begin with a valid shorter
     * one (e.g. "\xc3\xa9\x80" = é + lone continuation): find where the
     * reference says the first bad byte is */
    if (!ref_one(seq, n)) {
        size_t at = 0;
        while (at < n) {
            size_t k = 1;
            while (k <= 4 && at + k <= n && !ref_one(seq + at, k))
                k++;
            if (k > 4 || at + k > n)
                break;
            at += k;
        }
        want = pre + at;
        if (at == n)
            want = total; /* a sequence of valid shorter ones */
    }
    return got == want;
}

static void every_short_sequence_matches_the_reference(void)
{
    unsigned char s[4];
    size_t bad = 0, checked = 0;
    for (unsigned a = 0; a < 256; a++) {
        s[0] = (unsigned char)a;
        checked++;
        bad += !agrees(s, 1, a % 8);
        for (unsigned b = 0; b < 256; b++) {
            s[1] = (unsigned char)b;
            checked++;
            bad += !agrees(s, 2, (a + b) % 8);
            if (a < 0xC0)
                continue; /* 3-byte forms only matter after a lead byte */
            for (unsigned c = 0; c < 256; c++) {
                s[2] = (unsigned char)c;
                checked++;
                bad += !agrees(s, 3, (a + b + c) % 8);
            }
        }
    }
    for (unsigned a = 0xF0; a <= 0xF7; a++)
        for (unsigned b = 0; b < 256; b++)
            for (unsigned c = 0x7F; c <= 0xC0; c += 0x41)
                for (unsigned d = 0x7F; d <= 0xC0; d++) {
                    s[0] = (unsigned char)a, s[1] = (unsigned char)b;
                    s[2] = (unsigned char)c, s[3] = (unsigned char)d;
                    checked++;
                    bad += !agrees(s, 4, d % 8);
                }
    IFS_CHECK(bad == 0, "%zu of %zu sequences disagree with the reference", bad, checked);
    printf("utf8: %zu sequences checked against the reference\n", checked);
}

int main(void)
{
    static const struct {
        const char *name;
        void (*fn)(void);
    } tests[] = {
        {"boundary_table_gives_the_first_bad_offset", boundary_table_gives_the_first_bad_offset},
        {"every_short_sequence_matches_the_reference", every_short_sequence_matches_the_reference},
    };
    for (size_t i = 0; i < sizeof tests / sizeof tests[0]; i++) {
        int before = ifs_test_failures;
        tests[i].fn();
        printf("%s %s\n", ifs_test_failures == before ? "ok  " : "FAIL", tests[i].name);
    }
    return ifs_test_done("record_utf8");
}
