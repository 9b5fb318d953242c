/*
 * ds_core.c - the small pure pieces of the data sets: status words,
 * deterministic keys, labels, splits and prompt variants.
 *
 * Keys are FNV-1a over (purpose, NUL, text) finished with the splitmix64
 * mixer and the seed: cheap, stable across platforms and versions (a change
 * here changes every built data set, so it is frozen by the unit tests), and
 * independent of record order. They are not cryptographic and need not be.
 */
#include <string.h>

#include "ds_internal.h"

const char *ifs_ds_strerror(int status)
{
    switch (status) {
    case IFS_DS_OK: return "ok";
    case IFS_DS_ELEM: return "element ready";
    case IFS_DS_ENOCUT: return "no acceptable word boundary";
    case IFS_DS_EARG: return "bad argument";
    case IFS_DS_ENOMEM: return "out of memory";
    case IFS_DS_ESYNTAX: return "malformed JSON array";
    case IFS_DS_ETOOBIG: return "element too large";
    case IFS_DS_EIO: return "I/O error";
    case IFS_DS_ETRUNC: return "truncated input";
    case IFS_DS_EFORMAT: return "malformed input";
    default: return "unknown status";
    }
}

uint64_t ifs_ds_key(uint64_t seed, const char *purpose, const char *text, size_t len)
{
    uint64_t h = 0xCBF29CE484222325ull;
    const unsigned char *p = (const unsigned char *)(purpose ? purpose : "");
    for (; *p; p++)
        h = (h ^ *p) * 0x100000001B3ull;
    h = (h ^ 0) * 0x100000001B3ull;
    const unsigned char *t = (const unsigned char *)text;
    for (size_t i = 0; t && i < len; i++)
        h = (h ^ t[i]) * 0x100000001B3ull;
    return ds_mix64(h ^ ds_mix64(seed));
}

double ifs_ds_unit(uint64_t key)
{
    return (double)(key >> 11) * (1.0 / 9007199254740992.0);
}

const char *ifs_ds_kind_name(ifs_ds_kind k)
{
    switch (k) {
    case IFS_DS_KIND_R: return "R";
    case IFS_DS_KIND_IC: return "Ic";
    case IFS_DS_KIND_IC_R: return "Ic+R";
    }
    return "?";
}

int ifs_ds_kind_label(ifs_ds_kind k)
{
    return k == IFS_DS_KIND_R ? 1 : 0;
}

const char *ifs_ds_split_name(ifs_ds_split s)
{
    switch (s) {
    case IFS_DS_TRAIN: return "train";
    case IFS_DS_VALIDATION: return "validation";
    case IFS_DS_TEST: return "test";
    case IFS_DS_HOLDOUT: return "holdout";
    }
    return "?";
}

ifs_ds_split ifs_ds_split_of(uint64_t key, double train, double validation)
{
    double u = ifs_ds_unit(key);
    if (u < train)
        return IFS_DS_TRAIN;
    if (u < train + validation)
        return IFS_DS_VALIDATION;
    return IFS_DS_TEST;
}

static const char prompt_a_head[] =
    "Below is an instruction that describes a task. Write a response that "
    "appropriately completes the request.\n\n### Instruction:\n";
static const char prompt_b_tail[] = "\n\n### Response:";
static const char prompt_short_tail[] = "### Response:";

int ifs_ds_prompt_parse(const char *name)
{
    if (!name)
        return -1;
    if (!strcmp(name, "A") || !strcmp(name, "a"))
        return IFS_DS_PROMPT_A;
    if (!strcmp(name, "B") || !strcmp(name, "b"))
        return IFS_DS_PROMPT_B;
    if (!strcmp(name, "C") || !strcmp(name, "c"))
        return IFS_DS_PROMPT_C;
    if (!strcmp(name, "short"))
        return IFS_DS_PROMPT_SHORT;
    return -1;
}

const char *ifs_ds_prompt_name(ifs_ds_prompt p)
{
    switch (p) {
    case IFS_DS_PROMPT_A: return "A";
    case IFS_DS_PROMPT_B: return "B";
    case IFS_DS_PROMPT_C: return "C";
    case IFS_DS_PROMPT_SHORT: return "short";
    }
    return "?";
}

/* Appends src to out at *pos, as far as cap allows, always counting. */
static void put(char *out, size_t cap, size_t *pos, const char *src, size_t n)
{
    if (*pos < cap) {
        size_t room = cap - *pos;
        memcpy(out + *pos, src, n < room ? n : room);
    }
    *pos += n;
}

size_t ifs_ds_prompt_render(ifs_ds_prompt p, const char *instr, size_t len, char *out, size_t cap)
{
    size_t pos = 0;
    if (!instr)
        len = 0;
    if (p == IFS_DS_PROMPT_A)
        put(out, cap, &pos, prompt_a_head, sizeof prompt_a_head - 1);
    if (len)
        put(out, cap, &pos, instr, len);
    if (p == IFS_DS_PROMPT_A || p == IFS_DS_PROMPT_B)
        put(out, cap, &pos, prompt_b_tail, sizeof prompt_b_tail - 1);
    else if (p == IFS_DS_PROMPT_SHORT)
        put(out, cap, &pos, prompt_short_tail, sizeof prompt_short_tail - 1);
    if (cap)
        out[pos < cap ? pos : cap - 1] = '\0';
    return pos;
}
