/*
 * negatives.c - the texts of the response set's kinds: what an
 * instruction-tuned model answers (R), and what base models write instead,
 * each made from real text (the pair's instruction and response, and other
 * instructions and responses of the same split) by a seeded rule.
 *
 * Why these kinds: the paper's Ic and Ic+R are one way a base model fails;
 * AlpacaEval's weak generators show the others (docs/datasets.md quotes
 * them): phi-2 echoes the question ("When was Canada colonized?" answered
 * with itself), loops ("Match a valid ip address" twenty times), runs on
 * into a textbook's next exercise ("Exercise 1: ... Solution: ...") or a
 * chat log ("User: ... Agent: ..."); oasst-sft-pythia-12b loops over list
 * items ("Sincerely,\n\nAffectionately,\n\n..."); NullModel writes token
 * soup (" } } } verify }:param } ..."). Every rule below takes its words
 * from real text, so a classifier cannot learn a fixed phrase; what is fixed
 * is the shape (and, for templates, a short table of field labels that base
 * models were seen to write).
 *
 * Every choice comes from a splitmix64 stream seeded by the record's key:
 * the same record gets the same text in every pass of the builder.
 */
#include <string.h>

#include "ds_internal.h"

static const char *const out_names[DS_OUT__COUNT] = {
    "R", "R-terse", "Ic", "Ic+R", "Ic+next", "echo", "next", "template", "repeat", "gibberish",
};

const char *ds_out_name(ds_out k)
{
    return (int)k >= 0 && k < DS_OUT__COUNT ? out_names[k] : "?";
}

int ds_out_parse(const char *name, size_t len)
{
    for (int i = 0; i < DS_OUT__COUNT; i++)
        if (strlen(out_names[i]) == len && !memcmp(out_names[i], name, len))
            return i;
    return -1;
}

int ds_out_label(ds_out k)
{
    return k == DS_OUT_R || k == DS_OUT_R_TERSE;
}

/* ---- text helpers ------------------------------------------------------------ */

static int ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static ds_str trim(ds_str s)
{
    while (s.n && ws((unsigned char)s.p[0])) {
        s.p++;
        s.n--;
    }
    while (s.n && ws((unsigned char)s.p[s.n - 1]))
        s.n--;
    return s;
}

/* Length of the UTF-8 sequence starting at p[0] (1 for stray bytes). */
static size_t cp_len(const char *p, size_t n)
{
    unsigned char c = (unsigned char)p[0];
    size_t k = c < 0xC0 ? 1 : c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (k > n)
        return 1;
    for (size_t i = 1; i < k; i++)
        if (((unsigned char)p[i] & 0xC0) != 0x80)
            return 1;
    return k;
}

/* The first `words` whitespace-separated words of s, spacing kept. */
static ds_str word_prefix(ds_str s, size_t words)
{
    s = trim(s);
    size_t i = 0, w = 0;
    while (i < s.n) {
        while (i < s.n && ws((unsigned char)s.p[i]))
            i++;
        if (i >= s.n || w == words)
            break;
        while (i < s.n && !ws((unsigned char)s.p[i]))
            i++;
        w++;
        if (w == words)
            break;
    }
    return (ds_str){s.p, i};
}

/* Lines of s (split at '\n'), trimmed; the k-th non-empty one. */
static size_t count_lines(ds_str s)
{
    size_t n = 0, i = 0;
    while (i < s.n) {
        size_t e = i;
        while (e < s.n && s.p[e] != '\n')
            e++;
        if (trim((ds_str){s.p + i, e - i}).n)
            n++;
        i = e + 1;
    }
    return n;
}

static ds_str nth_line(ds_str s, size_t k)
{
    size_t i = 0;
    while (i < s.n) {
        size_t e = i;
        while (e < s.n && s.p[e] != '\n')
            e++;
        ds_str l = trim((ds_str){s.p + i, e - i});
        if (l.n && k-- == 0)
            return l;
        i = e + 1;
    }
    return (ds_str){s.p, 0};
}

/* Words of s as spans, at most cap of them. */
static size_t split_words(ds_str s, ds_str *w, size_t cap)
{
    size_t n = 0, i = 0;
    while (i < s.n && n < cap) {
        while (i < s.n && ws((unsigned char)s.p[i]))
            i++;
        size_t b = i;
        while (i < s.n && !ws((unsigned char)s.p[i]))
            i++;
        if (i > b)
            w[n++] = (ds_str){s.p + b, i - b};
    }
    return n;
}

static void put(ds_buf *b, ds_str s)
{
    ds_buf_put(b, s.p, s.n);
}

/* How base models glue one piece of text to the next. */
static const char *sep(ds_rng *r)
{
    uint32_t u = ds_rng_below(r, 10);
    return u < 5 ? "\n\n" : u < 8 ? "\n" : " ";
}

/* ---- the kinds ------------------------------------------------------------------ */

/* Field labels base models write when they continue a prompt as a data set
 * or a transcript: phi-2 (Exercise/Solution, User/Agent), pythia-12b-mix-sft
 * (input/output), and the instruction formats they were trained near
 * (Alpaca's ### Instruction/### Response, HH's Human/Assistant, Q/A). */
static const char *const labels[][2] = {
    {"Input", "Output"},
    {"Question", "Answer"},
    {"Q", "A"},
    {"Instruction", "Response"},
    {"### Instruction", "### Response"},
    {"Exercise", "Solution"},
    {"Problem", "Solution"},
    {"User", "Assistant"},
    {"Human", "Assistant"},
    {"User", "Agent"},
    {"Prompt", "Completion"},
    {"Example", "Answer"},
};

static void put_label(ds_buf *b, const char *l, int style, int number)
{
    for (const char *c = l; *c; c++) {
        char ch = *c;
        if (style == 1 && ch >= 'A' && ch <= 'Z')
            ch = (char)(ch - 'A' + 'a');
        else if (style == 2 && ch >= 'a' && ch <= 'z')
            ch = (char)(ch - 'a' + 'A');
        ds_buf_put(b, &ch, 1);
    }
    if (number)
        ds_buf_printf(b, " %d", number);
    ds_buf_puts(b, ":");
}

static void gen_template(const ds_gen_src *s, ds_rng *r, ds_buf *out)
{
    size_t li = ds_rng_below(r, sizeof labels / sizeof labels[0]);
    int style = ds_rng_below(r, 10) < 7 ? 0 : (int)ds_rng_below(r, 2) + 1;
    int number = ds_rng_below(r, 10) < 3 ? (int)ds_rng_below(r, 9) + 1 : 0;
    uint32_t form = ds_rng_below(r, 3);
    if (form == 2 && !s->input_partial)
        form = 1; /* the fragment's rest only follows a fragment */
    if (form == 0) {
        /* answer in the template's voice, then the next example */
        put_label(out, labels[li][1], style, 0);
        ds_buf_puts(out, " ");
        put(out, word_prefix(s->resp, 8 + ds_rng_below(r, 53)));
        ds_buf_puts(out, "\n\n");
    } else if (form == 2) {
        put(out, s->ic);
        ds_buf_puts(out, "\n\n");
    }
    put_label(out, labels[li][0], style, number ? number + (form == 0) : 0);
    ds_buf_puts(out, " ");
    put(out, trim(s->other_instr[0]));
    ds_buf_puts(out, "\n");
    put_label(out, labels[li][1], style, 0);
    if (ds_rng_below(r, 10) < 7) {
        ds_buf_puts(out, " ");
        put(out, word_prefix(s->other_resp[0], 8 + ds_rng_below(r, 53)));
    }
}

static void gen_repeat(const ds_gen_src *s, ds_rng *r, ds_buf *out)
{
    ds_str unit;
    const char *glue;
    uint32_t how = ds_rng_below(r, 20);
    size_t nl = count_lines(s->resp);
    if (how < 9 && nl) {
        /* a line of the response, looped (phi-2, oasst-sft-pythia-12b) */
        unit = word_prefix(nth_line(s->resp, ds_rng_below(r, (uint32_t)(nl < 64 ? nl : 64))), 30);
        glue = sep(r);
    } else if (how < 14) {
        /* a few words of the response, looped ("the the the", "\\ \\ \\") */
        ds_str w[512];
        size_t nw = split_words(s->resp, w, 512);
        if (!nw) {
            unit = trim(s->resp);
        } else {
            size_t a = ds_rng_below(r, (uint32_t)nw);
            size_t k = 1 + ds_rng_below(r, 6);
            if (a + k > nw)
                k = nw - a;
            unit = (ds_str){w[a].p, (size_t)(w[a + k - 1].p + w[a + k - 1].n - w[a].p)};
        }
        glue = ds_rng_below(r, 4) ? " " : "\n";
    } else {
        /* the prompt's first line, looped (echo that does not stop) */
        unit = word_prefix(nth_line(s->input, 0), 30);
        glue = sep(r);
    }
    if (!unit.n)
        unit = word_prefix(s->resp, 12);
    if (ds_rng_below(r, 10) < 4) {
        /* a real beginning before the loop sets in */
        ds_str lead = word_prefix(nth_line(s->resp, 0), 40);
        if (lead.n && (lead.p != unit.p || lead.n != unit.n)) {
            put(out, lead);
            ds_buf_puts(out, sep(r));
        }
    }
    size_t times = 3 + ds_rng_below(r, 10);
    for (size_t i = 0; i < times && out->len < 4096; i++) {
        if (i)
            ds_buf_puts(out, glue);
        put(out, unit);
    }
}

static void gen_gibberish(const ds_gen_src *s, ds_rng *r, ds_buf *out)
{
    /* NullModel-like token soup: pieces of a real response's words, many
     * cut inside (subword fragments), glued by that text's own punctuation. */
    ds_str src = s->n_other ? s->other_resp[0] : s->resp;
    static _Thread_local ds_str w[4096];
    size_t nw = split_words(src, w, 4096);
    if (!nw) {
        w[0] = (ds_str){"}", 1};
        nw = 1;
    }
    char punct[64];
    size_t np = 0;
    for (size_t i = 0; i < src.n && np < sizeof punct; i++) {
        unsigned char c = (unsigned char)src.p[i];
        if (c < 0x80 && c > ' ' &&
            !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) &&
            !memchr(punct, c, np))
            punct[np++] = (char)c;
    }
    /* short soup has at least 3 pieces: a lone word could be a terse answer */
    size_t pieces = ds_rng_below(r, 10) < 3 ? 3 + ds_rng_below(r, 5) : 8 + ds_rng_below(r, 113);
    for (size_t i = 0; i < pieces; i++) {
        ds_str word = w[ds_rng_below(r, (uint32_t)nw)];
        if (ds_rng_below(r, 10) < 6 || (pieces < 8 && i == 0)) {
            /* a fragment: 1-6 code points from inside the word */
            size_t cps[64], ncp = 0;
            for (size_t k = 0; k < word.n && ncp < 64; k += cp_len(word.p + k, word.n - k))
                cps[ncp++] = k;
            size_t a = ds_rng_below(r, (uint32_t)ncp);
            size_t len = 1 + ds_rng_below(r, 6);
            size_t e = a + len >= ncp ? word.n : cps[a + len];
            word = (ds_str){word.p + cps[a], e - cps[a]};
        }
        uint32_t cs = ds_rng_below(r, 20);
        size_t at = out->len;
        put(out, word);
        for (size_t k = at; k < out->len && cs < 3; k++) /* upper-cased */
            if (out->p[k] >= 'a' && out->p[k] <= 'z')
                out->p[k] = (char)(out->p[k] - 'a' + 'A');
        if (cs == 3 && out->p[at] >= 'a' && out->p[at] <= 'z') /* capitalised */
            out->p[at] = (char)(out->p[at] - 'a' + 'A');
        if (i + 1 == pieces)
            break;
        uint32_t g = ds_rng_below(r, 40);
        if (g < 20)
            ds_buf_puts(out, " ");
        else if (g < 26)
            ; /* glued to the next piece */
        else if (g < 28)
            ds_buf_puts(out, "\n");
        else if (np) {
            char p = punct[ds_rng_below(r, (uint32_t)np)];
            ds_buf_puts(out, g < 34 ? " " : "");
            ds_buf_put(out, &p, 1);
            ds_buf_puts(out, g & 1 ? " " : "");
        } else {
            ds_buf_puts(out, " ");
        }
    }
}

int ds_gen_text(ds_out kind, const ds_gen_src *s, uint64_t key, ds_buf *out)
{
    ds_rng r = ds_rng_seed(key);
    ds_buf_reset(out);
    int need_other = kind == DS_OUT_IC_NEXT || kind == DS_OUT_NEXT || kind == DS_OUT_TEMPLATE;
    if (need_other && !s->n_other)
        return IFS_DS_ENOCUT;
    switch (kind) {
    case DS_OUT_R:
    case DS_OUT_R_TERSE: put(out, s->resp); break;
    case DS_OUT_IC: put(out, s->ic); break;
    case DS_OUT_IC_R:
        put(out, s->ic);
        ds_buf_puts(out, sep(&r));
        put(out, s->resp);
        break;
    case DS_OUT_IC_NEXT: {
        put(out, s->ic);
        const char *g = sep(&r);
        ds_buf_puts(out, g);
        put(out, trim(s->other_instr[0]));
        if (s->n_other > 1 && ds_rng_below(&r, 3) == 0) {
            ds_buf_puts(out, g);
            put(out, trim(s->other_instr[1]));
        }
        break;
    }
    case DS_OUT_ECHO: put(out, trim(s->input)); break;
    case DS_OUT_NEXT: {
        /* the next question(s) of the list the prompt seemed to start */
        const char *g = sep(&r);
        put(out, trim(s->other_instr[0]));
        for (unsigned k = 1; k < s->n_other && ds_rng_below(&r, 10) < 4; k++) {
            ds_buf_puts(out, g);
            put(out, trim(s->other_instr[k]));
        }
        break;
    }
    case DS_OUT_TEMPLATE: gen_template(s, &r, out); break;
    case DS_OUT_REPEAT: gen_repeat(s, &r, out); break;
    case DS_OUT_GIBBERISH: gen_gibberish(s, &r, out); break;
    default: return IFS_DS_EARG;
    }
    if (out->oom)
        return IFS_DS_ENOMEM;
    return trim((ds_str){out->p, out->len}).n ? 0 : IFS_DS_ENOCUT;
}
