/*
 * jsplit.c - a push-style splitter that yields the elements of one JSON array
 * (or the lines of a JSONL stream) one at a time, holding at most one element.
 *
 * Why not cJSON on the whole file: AlpacaEval and Alpaca data sets are single
 * JSON arrays of 1-100 MB; parsing one whole costs ~10x its size in cJSON
 * nodes. The splitter only tracks what it needs to find element ends (depth,
 * strings, escapes), so memory is one element (bounded by max_elem) whatever
 * the file's size; each element then goes to cJSON_ParseWithLength.
 *
 * The array's own grammar is checked strictly ("[1,]", "[,1]", "[1 2]",
 * "[1]x" are syntax errors with a byte offset) because a malformed array
 * cannot be resynchronised safely; a malformed *element* is the caller's
 * business (its parser rejects it and the import goes on). JSONL needs no
 * resynchronisation: one line, one element, blank lines skipped.
 *
 * Call-again semantics as in zstd: feed returns as soon as one element is
 * complete, reporting how much input it consumed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_ds.h"

enum { M_UNKNOWN = -1, M_LINES = 0, M_ARRAY = 1 };
enum {
    A_OPEN,  /* after '[': an element or ']' */
    A_ELEM,  /* inside an element */
    A_AFTER, /* after an element: ',' or ']' */
    A_NEXT,  /* after ',': an element */
    A_DONE,  /* after ']': whitespace only */
};
enum { K_CONTAINER, K_STRING, K_BARE };

struct ifs_ds_jsplit {
    size_t max_elem;
    char *buf;
    size_t blen, bcap;
    int mode, state, kind;
    int dead;  /* status every later call returns (0 = alive) */
    int reset; /* the last call handed out buf: clear it first */
    int in_elem, too_big, in_str, esc, nonblank;
    long depth;
    uint64_t off, line, index;
    uint64_t e_off, e_line, e_size;
    int bom; /* BOM bytes matched at the very start */
    char err[160];
};

ifs_ds_jsplit *ifs_ds_jsplit_create(size_t max_elem)
{
    ifs_ds_jsplit *js = calloc(1, sizeof *js);
    if (!js)
        return NULL;
    js->max_elem = max_elem ? max_elem : (size_t)16 << 20;
    js->mode = M_UNKNOWN;
    js->line = 1;
    return js;
}

void ifs_ds_jsplit_free(ifs_ds_jsplit *js)
{
    if (!js)
        return;
    free(js->buf);
    free(js);
}

const char *ifs_ds_jsplit_error(const ifs_ds_jsplit *js)
{
    return js ? js->err : "no splitter";
}

int ifs_ds_jsplit_is_array(const ifs_ds_jsplit *js)
{
    return js ? js->mode : -1;
}

static int is_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static int syntax(ifs_ds_jsplit *js, const char *what, unsigned char c)
{
    if (c >= 0x20 && c < 0x7F)
        snprintf(js->err, sizeof js->err, "%s at byte %llu (line %llu): '%c'", what,
                 (unsigned long long)js->off, (unsigned long long)js->line, c);
    else
        snprintf(js->err, sizeof js->err, "%s at byte %llu (line %llu): byte 0x%02x", what,
                 (unsigned long long)js->off, (unsigned long long)js->line, c);
    js->dead = IFS_DS_ESYNTAX;
    return IFS_DS_ESYNTAX;
}

static void begin_elem(ifs_ds_jsplit *js)
{
    js->in_elem = 1;
    js->too_big = 0;
    js->blen = 0;
    js->e_off = js->off;
    js->e_line = js->line;
    js->e_size = 0;
    js->in_str = js->esc = 0;
    js->depth = 0;
    js->nonblank = 0;
}

/* Appends one byte of the current element, or only counts it once too big. */
static int push(ifs_ds_jsplit *js, unsigned char c)
{
    js->e_size++;
    if (js->too_big)
        return 0;
    if (js->blen >= js->max_elem) {
        js->too_big = 1;
        return 0;
    }
    if (js->blen == js->bcap) {
        size_t nc = js->bcap ? js->bcap * 2 : 4096;
        if (nc > js->max_elem)
            nc = js->max_elem;
        char *nb = realloc(js->buf, nc + 1);
        if (!nb)
            return IFS_DS_ENOMEM;
        js->buf = nb;
        js->bcap = nc;
    }
    js->buf[js->blen++] = (char)c;
    return 0;
}

/* Appends a run of bytes with no structure in them (string content, the
 * body of a JSONL line): one memcpy instead of a call per byte. */
static int push_span(ifs_ds_jsplit *js, const unsigned char *p, size_t n)
{
    js->e_size += n;
    if (js->too_big)
        return 0;
    if (js->blen + n > js->max_elem) {
        js->too_big = 1;
        return 0;
    }
    if (js->blen + n > js->bcap) {
        size_t nc = js->bcap ? js->bcap : 4096;
        while (nc < js->blen + n)
            nc *= 2;
        if (nc > js->max_elem)
            nc = js->max_elem;
        char *nb = realloc(js->buf, nc + 1);
        if (!nb)
            return IFS_DS_ENOMEM;
        js->buf = nb;
        js->bcap = nc;
    }
    memcpy(js->buf + js->blen, p, n);
    js->blen += n;
    return 0;
}

/* Hands out the finished element. */
static int emit(ifs_ds_jsplit *js, ifs_ds_elem *out)
{
    js->in_elem = 0;
    out->index = js->index++;
    out->offset = js->e_off;
    out->line = js->e_line;
    js->reset = 1;
    if (js->too_big) {
        out->data = NULL;
        out->len = (size_t)js->e_size;
        return IFS_DS_ETOOBIG;
    }
    js->buf[js->blen] = '\0';
    out->data = js->buf;
    out->len = js->blen;
    return IFS_DS_ELEM;
}

/* Array mode, inside an element: consumes c, returns 1 when it completed the
 * element (c included), 2 when c ends a bare element but is not part of it,
 * 0 to go on, < 0 on error. */
static int elem_byte(ifs_ds_jsplit *js, unsigned char c)
{
    if (js->kind == K_BARE) {
        if (is_ws(c) || c == ',' || c == ']')
            return 2;
        if (c == '[' || c == '{' || c == '"' || c == '}')
            return syntax(js, "unexpected character in a bare value", c);
        return push(js, c);
    }
    int rc = push(js, c);
    if (rc)
        return rc;
    if (js->in_str) {
        if (js->esc)
            js->esc = 0;
        else if (c == '\\')
            js->esc = 1;
        else if (c == '"') {
            js->in_str = 0;
            if (js->kind == K_STRING)
                return 1;
        }
        return 0;
    }
    if (c == '"')
        js->in_str = 1;
    else if (c == '{' || c == '[')
        js->depth++;
    else if (c == '}' || c == ']') {
        if (--js->depth == 0)
            return 1;
    }
    return 0;
}

int ifs_ds_jsplit_feed(ifs_ds_jsplit *js, const char *buf, size_t len, size_t *used,
                       ifs_ds_elem *out)
{
    if (used)
        *used = 0;
    if (!js || !used || !out || (!buf && len))
        return IFS_DS_EARG;
    if (js->dead)
        return js->dead;
    if (js->reset) {
        js->blen = 0;
        js->reset = 0;
    }
    const unsigned char *p = (const unsigned char *)buf;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (js->mode == M_UNKNOWN) {
            static const unsigned char bom[3] = {0xEF, 0xBB, 0xBF};
            if (js->off == (uint64_t)js->bom && js->bom < 3 && c == bom[js->bom]) {
                js->bom++;
                js->off++;
                i++;
                continue;
            }
            if (js->bom && js->bom < 3)
                return syntax(js, "broken byte order mark", c);
            if (is_ws(c)) {
                if (c == '\n')
                    js->line++;
                js->off++;
                i++;
                continue;
            }
            if (c == '[') {
                js->mode = M_ARRAY;
                js->state = A_OPEN;
                js->off++;
                i++;
                continue;
            }
            js->mode = M_LINES;
            /* fall through: c starts the first line element */
        }
        if (js->mode == M_LINES) {
            if (!js->in_elem)
                begin_elem(js);
            if (c != '\n') {
                /* the rest of the line, or of the buffer, in one go */
                const unsigned char *nl = memchr(p + i, '\n', len - i);
                size_t span = nl ? (size_t)(nl - (p + i)) : len - i;
                for (size_t k = 0; !js->nonblank && k < span; k++)
                    js->nonblank = !is_ws(p[i + k]);
                int rc = push_span(js, p + i, span);
                if (rc)
                    return rc;
                js->off += span;
                i += span;
                continue;
            }
            if (c == '\n') {
                js->off++;
                js->line++;
                i++;
                /* strip one CR before the LF */
                if (!js->too_big && js->blen && js->buf[js->blen - 1] == '\r')
                    js->blen--;
                if (!js->nonblank) {
                    js->in_elem = 0;
                    continue;
                }
                *used = i;
                return emit(js, out);
            }
            if (!is_ws(c))
                js->nonblank = 1;
            int rc = push(js, c);
            if (rc)
                return rc;
            js->off++;
            i++;
            continue;
        }
        /* array mode */
        switch (js->state) {
        case A_OPEN:
        case A_NEXT:
            if (is_ws(c))
                break;
            if (c == ']' && js->state == A_OPEN) {
                js->state = A_DONE;
                break;
            }
            if (c == ',' || c == ']' || c == '}' || c == ':')
                return syntax(js,
                              js->state == A_OPEN ? "expected an element or ']'"
                                                  : "expected an element after ','",
                              c);
            begin_elem(js);
            js->kind = c == '{' || c == '[' ? K_CONTAINER : c == '"' ? K_STRING : K_BARE;
            js->state = A_ELEM;
            if (js->kind == K_STRING) {
                int rc = push(js, c);
                if (rc)
                    return rc;
                js->in_str = 1;
                break;
            }
            /* the first byte goes through elem_byte like the rest */
            /* fall through */
        case A_ELEM: {
            if (js->in_str && !js->esc && c != '"' && c != '\\' && c != '\n') {
                size_t j = i + 1;
                while (j < len && p[j] != '"' && p[j] != '\\' && p[j] != '\n')
                    j++;
                int rc = push_span(js, p + i, j - i);
                if (rc)
                    return rc;
                js->off += j - i;
                i = j;
                continue;
            }
            int rc = elem_byte(js, c);
            if (rc < 0)
                return rc;
            if (rc == 1) {
                if (c == '\n')
                    js->line++;
                js->off++;
                i++;
                js->state = A_AFTER;
                *used = i;
                return emit(js, out);
            }
            if (rc == 2) {
                /* c is not consumed: A_AFTER sees it on the next call */
                js->state = A_AFTER;
                *used = i;
                return emit(js, out);
            }
            break;
        }
        case A_AFTER:
            if (is_ws(c))
                break;
            if (c == ',')
                js->state = A_NEXT;
            else if (c == ']')
                js->state = A_DONE;
            else
                return syntax(js, "expected ',' or ']' after an element", c);
            break;
        case A_DONE:
            if (!is_ws(c))
                return syntax(js, "data after the end of the array", c);
            break;
        }
        if (c == '\n')
            js->line++;
        js->off++;
        i++;
    }
    *used = i;
    return 0;
}

int ifs_ds_jsplit_finish(ifs_ds_jsplit *js, ifs_ds_elem *out)
{
    if (!js || !out)
        return IFS_DS_EARG;
    if (js->dead)
        return js->dead;
    if (js->reset) {
        js->blen = 0;
        js->reset = 0;
    }
    if (js->mode == M_LINES) {
        if (js->in_elem) {
            if (!js->too_big && js->blen && js->buf[js->blen - 1] == '\r')
                js->blen--;
            if (js->nonblank)
                return emit(js, out);
            js->in_elem = 0;
        }
        return 0;
    }
    if (js->mode == M_ARRAY) {
        if (js->state == A_ELEM && js->kind == K_BARE) {
            /* "[1" : the bare value ends with the input, but the array does not */
            js->state = A_AFTER;
        }
        if (js->state != A_DONE) {
            snprintf(js->err, sizeof js->err, "input ended at byte %llu inside the JSON array (%s)",
                     (unsigned long long)js->off,
                     js->state == A_ELEM ? "in an element" : "no closing ']'");
            js->dead = IFS_DS_ETRUNC;
            return IFS_DS_ETRUNC;
        }
        return 0;
    }
    if (js->bom && js->bom < 3) {
        snprintf(js->err, sizeof js->err, "input ended inside a byte order mark");
        js->dead = IFS_DS_ESYNTAX;
        return IFS_DS_ESYNTAX;
    }
    return 0; /* empty or whitespace-only input: no elements */
}
