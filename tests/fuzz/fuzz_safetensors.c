/*
 * fuzz_safetensors.c - libFuzzer target for the safetensors reader: any
 * bytes must either be refused with a message or parse into tensors whose
 * byte ranges lie inside the input, cover the data section back to back,
 * agree with their shape and dtype, and are found by name. The loader's
 * header-only reader (wts_st_parse_prefix, given only the first 8 + N
 * bytes, in a buffer of exactly that size) must reach the same verdict,
 * with the same words, and the same tensors.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_wts.h"
#include "wts_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512], err2[512];
    /* a private copy so a read past the input is a heap overflow ASan sees */
    uint8_t *copy = malloc(size ? size : 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    ifs_wts_st *st = ifs_wts_st_parse(copy, size, "fuzz.safetensors", err, sizeof err);
    if (!st) {
        if (!err[0] || !strstr(err, "fuzz.safetensors"))
            abort(); /* every refusal has words naming the file */
    } else {
        uint64_t expect = 0;
        for (size_t i = 0; i < ifs_wts_st_count(st); i++) {
            const ifs_wts_tensor_info *t = ifs_wts_st_tensor(st, i);
            uint64_t n = 1;
            for (int d = 0; d < t->ndim; d++)
                n *= (uint64_t)t->shape[d];
            if (t->begin != expect || t->end < t->begin ||
                t->end - t->begin != n * wts_dtype_size(t->dtype) ||
                t->file_offset + (t->end - t->begin) > size || ifs_wts_st_find(st, t->name) != t)
                abort();
            expect = t->end;
            const uint8_t *p = t->data;
            volatile uint8_t sink = 0;
            if (t->end > t->begin)
                sink ^= p[0] ^ p[t->end - t->begin - 1];
            (void)sink;
        }
        if (ifs_wts_st_count(st) && 8 + expect > size)
            abort();
    }

    /* the header-only reader on the prefix alone */
    uint64_t hl = 0;
    for (int i = 7; size >= 8 && i >= 0; i--)
        hl = hl << 8 | copy[i];
    size_t avail = size < 8 ? size : hl <= size - 8 ? (size_t)(8 + hl) : 8;
    uint8_t *prefix = malloc(avail ? avail : 1);
    if (prefix) {
        memcpy(prefix, copy, avail);
        ifs_wts_st *hs =
            wts_st_parse_prefix(prefix, avail, size, "fuzz.safetensors", err2, sizeof err2);
        if ((st == NULL) != (hs == NULL) || (!st && strcmp(err, err2)))
            abort();
        for (size_t i = 0; st && i < ifs_wts_st_count(st); i++) {
            const ifs_wts_tensor_info *a = ifs_wts_st_tensor(st, i), *b = ifs_wts_st_tensor(hs, i);
            if (!b || strcmp(a->name, b->name) || a->begin != b->begin || a->end != b->end ||
                strcmp(a->dtype, b->dtype) || (avail < size && b->data))
                abort();
        }
        if (st && ifs_wts_st_count(st) != ifs_wts_st_count(hs))
            abort();
        ifs_wts_st_free(hs);
        free(prefix);
    }
    ifs_wts_st_free(st);
    free(copy);
    return 0;
}
