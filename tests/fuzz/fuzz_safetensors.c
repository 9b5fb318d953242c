/*
 * fuzz_safetensors.c - libFuzzer target for the safetensors reader: any
 * bytes must either be refused with a message or parse into tensors whose
 * byte ranges lie inside the input, cover the data section back to back,
 * and agree with their shape and dtype.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_wts.h"

static unsigned dtype_size(const char *d)
{
    if (!strcmp(d, "F64") || !strcmp(d, "I64") || !strcmp(d, "U64") || !strcmp(d, "C64"))
        return 8;
    if (!strcmp(d, "F32") || !strcmp(d, "I32") || !strcmp(d, "U32"))
        return 4;
    if (!strcmp(d, "F16") || !strcmp(d, "BF16") || !strcmp(d, "I16") || !strcmp(d, "U16"))
        return 2;
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
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
                t->end - t->begin != n * dtype_size(t->dtype) || t->file_offset + (t->end - t->begin) > size ||
                ifs_wts_st_find(st, t->name) == NULL)
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
        ifs_wts_st_free(st);
    }
    free(copy);
    return 0;
}
