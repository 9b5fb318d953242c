/*
 * fuzz_config.c - libFuzzer target for the config.json parser and what
 * reads the parsed labels: any bytes must be refused with a message naming
 * the file, or give a config whose sizes are consistent (hidden divisible
 * by heads, 1..64 labels each a terminated string, pad id inside the
 * vocabulary, eps positive, input mode 0/1 with an instruction cap only for
 * pairs), that writes and reads back to the same config, and whose answer
 * label (without a flag, and with a flag taken from the input's tail) is an
 * index in range or a refusal with words.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_wts.h"

typedef struct {
    char buf[1 << 16];
    size_t n;
} sink;

static int to_sink(void *ctx, const void *p, size_t n)
{
    sink *s = ctx;
    if (n > sizeof s->buf - s->n)
        return IFS_WTS_ENOMEM;
    memcpy(s->buf + s->n, p, n);
    s->n += n;
    return 0;
}

static void check_answer_label(const ifs_bert_config *c, const char *flag)
{
    char err[512] = "";
    int32_t out = -1;
    int rc = ifs_wts_answer_label(c, flag, &out, err, sizeof err);
    if (rc == 0 && (out < 0 || out >= c->num_labels))
        abort();
    if (rc && (rc != IFS_WTS_ELABEL || !err[0]))
        abort();
}

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
            (c.act != IFS_ACT_GELU && c.act != IFS_ACT_GELU_TANH && c.act != IFS_ACT_RELU) ||
            (c.pair_input != 0 && c.pair_input != 1) || c.instruction_max_tokens < 0 ||
            (c.instruction_max_tokens && !c.pair_input))
            abort();
        for (int i = 0; i < c.num_labels; i++)
            if (!memchr(c.labels[i], '\0', IFS_LABEL_LEN))
                abort();

        /* what is accepted writes, and reads back the same */
        static sink s;
        s.n = 0;
        ifs_bert_config back;
        if (ifs_wts_emit_config("fuzz/out.json", &c, to_sink, &s, err, sizeof err) ||
            ifs_wts_parse_config(s.buf, s.n, "fuzz/out.json", &back, err, sizeof err))
            abort();
        if (back.hidden != c.hidden || back.n_layers != c.n_layers ||
            back.num_labels != c.num_labels || back.act != c.act || back.ln_eps != c.ln_eps ||
            back.pad_token_id != c.pad_token_id || back.pair_input != c.pair_input ||
            back.instruction_max_tokens != c.instruction_max_tokens)
            abort();
        for (int i = 0; i < c.num_labels; i++)
            if (strcmp(back.labels[i], c.labels[i]))
                abort();

        check_answer_label(&c, NULL);
        char flag[16];
        size_t k = size < sizeof flag - 1 ? size : sizeof flag - 1;
        memcpy(flag, data + size - k, k);
        flag[k] = '\0';
        check_answer_label(&c, flag);
        check_answer_label(&c, c.labels[c.num_labels - 1]);
    }
    free(copy);
    return 0;
}
