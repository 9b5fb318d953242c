/*
 * fuzz_config.c - libFuzzer target for the config.json parser: any bytes
 * must be refused with a message naming the file, or give a config whose
 * sizes are consistent (hidden divisible by heads, 1..64 labels each a
 * terminated string, pad id inside the vocabulary, eps positive).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_wts.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[512];
    ifs_bert_config c;
    char *copy = malloc(size ? size : 1); /* not NUL-terminated on purpose */
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    int rc = ifs_wts_parse_config(copy, size, "fuzz/config.json", &c, err, sizeof err);
    if (rc) {
        if (!strstr(err, "fuzz/config.json"))
            abort();
    } else {
        if (c.hidden < 1 || c.n_heads < 1 || c.hidden % c.n_heads || c.n_layers < 1 ||
            c.intermediate < 1 || c.vocab_size < 1 || c.max_position < 1 || c.type_vocab < 1 ||
            c.num_labels < 1 || c.num_labels > IFS_MAX_LABELS || !(c.ln_eps > 0) ||
            c.pad_token_id < 0 || c.pad_token_id >= c.vocab_size ||
            (c.act != IFS_ACT_GELU && c.act != IFS_ACT_GELU_TANH && c.act != IFS_ACT_RELU))
            abort();
        for (int i = 0; i < c.num_labels; i++)
            if (!memchr(c.labels[i], '\0', IFS_LABEL_LEN))
                abort();
    }
    free(copy);
    return 0;
}
