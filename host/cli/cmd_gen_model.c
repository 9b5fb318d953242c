/*
 * cmd_gen_model.c - `ifscore gen-model`: ifscore's own seeded, deterministic
 * random BertForSequenceClassification checkpoint generator, for parity and
 * kernel tests that need models of many shapes without downloading them.
 *
 * Decisions:
 *   - PRNG: ifs_rng.h (splitmix64 -> Box-Muller): the same seed gives byte-identical
 *     files on every run on the same platform (libm's log/cos/sin are the
 *     only platform-dependent steps). Tensors are drawn in one fixed order.
 *   - --init hf (default) follows HF's _init_weights: Linear and Embedding
 *     weights ~ N(0, 0.02), biases 0, the pad_token_id row of the word
 *     embeddings 0, LayerNorm gamma 1 and beta 0. --init test also draws
 *     biases ~ N(0, 0.02), gamma ~ 1 + N(0, 0.02), beta ~ N(0, 0.02), so a
 *     backend that drops a bias or swaps gamma and beta fails parity.
 *   - --encoder DIR keeps a real checkpoint's embeddings and encoder (and
 *     pooler when it has one) and draws only what is missing; a classifier
 *     the encoder already has is kept.
 *   - The written folder is loaded back with ifs_wts_load before success is
 *     reported, and its fingerprint printed.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ifs_cli.h"
#include "ifs_io.h"
#include "ifs_rng.h"
#include "ifs_wts.h"

#define VOCAB_CAP (64u << 20)

static void usage(FILE *f)
{
    fputs("usage: ifscore gen-model --out DIR --seed N [options]\n"
          "\n"
          "Writes a seeded random BertForSequenceClassification checkpoint (config.json,\n"
          "model.safetensors, tokenizer_config.json, vocab.txt when given). Same seed and\n"
          "options -> byte-identical files.\n"
          "\n"
          "  --out DIR            output folder (created if missing, its parent must exist;\n"
          "                       files are replaced atomically)\n"
          "  --seed N             PRNG seed (unsigned 64-bit)\n"
          "  --shape minilm|base  minilm: 6 layers, hidden 384, 12 heads, intermediate 1536\n"
          "                       base: 12 / 768 / 12 / 3072 (default minilm)\n"
          "  --hidden N --layers N --heads N --intermediate N\n"
          "  --max-position N --type-vocab N --vocab-size N\n"
          "                       override single sizes (defaults: 512, 2, 30522)\n"
          "  --labels N           number of labels (default 2)\n"
          "  --act gelu|gelu_new|relu   hidden_act (default gelu)\n"
          "  --dtype f32|f16|bf16 storage dtype of model.safetensors (default f32)\n"
          "  --init hf|test       hf: HF's init (biases 0, LayerNorm 1/0); test: random\n"
          "                       biases and LayerNorm too (default hf)\n"
          "  --vocab FILE         copied to DIR/vocab.txt; vocab_size is its line count\n"
          "  --encoder DIR        take embeddings + encoder (+ pooler) from this checkpoint;\n"
          "                       draw only the missing head (sizes come from its config)\n"
          "  --input response|pair   what the classifier reads (config.json \"ifs_input\";\n"
          "                       default response). pair: [CLS] instruction [SEP] response\n"
          "                       [SEP]; score and classify then need --instruction-field\n"
          "  --instruction-max-tokens K  pair only: the instruction's own cap\n"
          "                       (\"ifs_instruction_max_tokens\"; default none)\n"
          "  --help\n",
          f);
}

/* --- arrays owned by the generator ------------------------------------------ */

typedef struct {
    float **p;
    size_t n, cap;
} arena;

static float *arena_alloc(arena *a, size_t count)
{
    if (a->n == a->cap) {
        size_t cap = a->cap ? 2 * a->cap : 128;
        float **np = realloc(a->p, cap * sizeof *np);
        if (!np)
            return NULL;
        a->p = np;
        a->cap = cap;
    }
    float *x = malloc(count ? count * sizeof *x : sizeof *x);
    if (x)
        a->p[a->n++] = x;
    return x;
}

static void arena_free(arena *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->p[i]);
    free(a->p);
}

enum { INIT_HF, INIT_TEST };
enum { K_WEIGHT, K_BIAS, K_GAMMA, K_BETA };

/* Allocates and fills one tensor of `count` values of kind k. */
static float *draw(arena *a, ifs_rng *r, size_t count, int k, int init)
{
    float *x = arena_alloc(a, count);
    if (!x)
        return NULL;
    for (size_t i = 0; i < count; i++) {
        double v;
        if (k == K_WEIGHT || init == INIT_TEST)
            v = 0.02 * ifs_rng_normal(r);
        else
            v = 0.0;
        if (k == K_GAMMA)
            v += 1.0;
        x[i] = (float)v;
    }
    return x;
}

/* --- files ------------------------------------------------------------------ */

/* Lines as BertTokenizer's load_vocab counts them: one token per line, a
 * final line without '\n' counts too. */
static long count_lines(const char *b, size_t n)
{
    long lines = 0;
    for (size_t i = 0; i < n; i++)
        if (b[i] == '\n')
            lines++;
    if (n && b[n - 1] != '\n')
        lines++;
    return lines;
}

static int copy_file(const char *src, const char *dir, const char *name, char *err, size_t errlen)
{
    char dst[4096];
    snprintf(dst, sizeof dst, "%s/%s", dir, name);
    return ifs_io_copy_file(src, dst, VOCAB_CAP, err, errlen);
}

static int exists(const char *dir, const char *name)
{
    char p[4096];
    struct stat sb;
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return stat(p, &sb) == 0 && S_ISREG(sb.st_mode);
}

static int write_tokenizer_config(const char *dir, int max_len, char *err, size_t errlen)
{
    char text[1024], dst[4096];
    int n = snprintf(text, sizeof text,
                     "{\n  \"cls_token\": \"[CLS]\",\n  \"do_basic_tokenize\": true,\n"
                     "  \"do_lower_case\": true,\n  \"mask_token\": \"[MASK]\",\n"
                     "  \"model_max_length\": %d,\n  \"pad_token\": \"[PAD]\",\n"
                     "  \"sep_token\": \"[SEP]\",\n  \"strip_accents\": null,\n"
                     "  \"tokenize_chinese_chars\": true,\n"
                     "  \"tokenizer_class\": \"BertTokenizer\",\n  \"unk_token\": \"[UNK]\"\n}\n",
                     max_len);
    snprintf(dst, sizeof dst, "%s/tokenizer_config.json", dir);
    return ifs_io_atomic_write(dst, text, (size_t)n, err, errlen);
}

/* --- options ------------------------------------------------------------------ */

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return -1;
    *out = (int)v;
    return 0;
}

int ifs_cmd_gen_model(int argc, char **argv)
{
    enum {
        O_OUT = 256,
        O_SEED,
        O_SHAPE,
        O_HIDDEN,
        O_LAYERS,
        O_HEADS,
        O_INTER,
        O_MAXPOS,
        O_TYPES,
        O_VSIZE,
        O_LABELS,
        O_ACT,
        O_DTYPE,
        O_VOCAB,
        O_ENCODER,
        O_INIT,
        O_HELP,
        O_INPUT,
        O_INSTR_MAX
    };
    static const struct option opts[] = {
        {"out", required_argument, 0, O_OUT},
        {"seed", required_argument, 0, O_SEED},
        {"shape", required_argument, 0, O_SHAPE},
        {"hidden", required_argument, 0, O_HIDDEN},
        {"layers", required_argument, 0, O_LAYERS},
        {"heads", required_argument, 0, O_HEADS},
        {"intermediate", required_argument, 0, O_INTER},
        {"max-position", required_argument, 0, O_MAXPOS},
        {"type-vocab", required_argument, 0, O_TYPES},
        {"vocab-size", required_argument, 0, O_VSIZE},
        {"labels", required_argument, 0, O_LABELS},
        {"act", required_argument, 0, O_ACT},
        {"dtype", required_argument, 0, O_DTYPE},
        {"vocab", required_argument, 0, O_VOCAB},
        {"encoder", required_argument, 0, O_ENCODER},
        {"init", required_argument, 0, O_INIT},
        {"help", no_argument, 0, O_HELP},
        {"input", required_argument, 0, O_INPUT},
        {"instruction-max-tokens", required_argument, 0, O_INSTR_MAX},
        {0, 0, 0, 0},
    };
    const char *out = NULL, *vocab = NULL, *encoder = NULL;
    int have_seed = 0, init = INIT_HF, sized = 0, labels = -1, act_set = 0;
    int pair_input = -1, instr_max = 0; /* -1: not given (--encoder's own, else response) */
    uint64_t seed = 0;
    ifs_wts_dtype dtype = IFS_WTS_F32;
    ifs_bert_config c;
    memset(&c, 0, sizeof c);
    c.vocab_size = -1; /* unset: from --vocab or 30522 */
    c.hidden = 384, c.n_layers = 6, c.n_heads = 12, c.intermediate = 1536;
    c.max_position = 512, c.type_vocab = 2, c.ln_eps = 1e-12f, c.act = IFS_ACT_GELU;
    optind = 1;
    opterr = 0;
    int o;
    while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        int *dst = NULL, lo = 1, hi = 1 << 16;
        switch (o) {
        case O_OUT: out = optarg; break;
        case O_SEED: {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(optarg, &end, 10);
            if (errno || end == optarg || *end || optarg[0] == '-')
                return ifs_cli_fail("gen-model", IFS_EXIT_USAGE,
                                    "--seed '%s' is not an unsigned integer", optarg);
            seed = v;
            have_seed = 1;
            break;
        }
        case O_SHAPE:
            if (!strcmp(optarg, "minilm")) {
                c.hidden = 384, c.n_layers = 6, c.n_heads = 12, c.intermediate = 1536;
            } else if (!strcmp(optarg, "base")) {
                c.hidden = 768, c.n_layers = 12, c.n_heads = 12, c.intermediate = 3072;
            } else {
                return ifs_cli_fail("gen-model", IFS_EXIT_USAGE, "--shape '%s': use minilm or base",
                                    optarg);
            }
            sized = 1;
            break;
        case O_HIDDEN: dst = &c.hidden; break;
        case O_LAYERS:
            dst = &c.n_layers;
            hi = 1024;
            break;
        case O_HEADS: dst = &c.n_heads; break;
        case O_INTER:
            dst = &c.intermediate;
            hi = 1 << 20;
            break;
        case O_MAXPOS:
            dst = &c.max_position;
            hi = 1 << 20;
            break;
        case O_TYPES: dst = &c.type_vocab; break;
        case O_VSIZE:
            dst = &c.vocab_size;
            hi = 1 << 24;
            break;
        case O_LABELS:
            dst = &labels;
            hi = IFS_MAX_LABELS;
            break;
        case O_ACT:
            if (!strcmp(optarg, "gelu"))
                c.act = IFS_ACT_GELU;
            else if (!strcmp(optarg, "gelu_new"))
                c.act = IFS_ACT_GELU_TANH;
            else if (!strcmp(optarg, "relu"))
                c.act = IFS_ACT_RELU;
            else
                return ifs_cli_fail("gen-model", IFS_EXIT_USAGE,
                                    "--act '%s': use gelu, gelu_new or relu", optarg);
            act_set = 1;
            break;
        case O_DTYPE:
            if (!strcmp(optarg, "f32"))
                dtype = IFS_WTS_F32;
            else if (!strcmp(optarg, "f16"))
                dtype = IFS_WTS_F16;
            else if (!strcmp(optarg, "bf16"))
                dtype = IFS_WTS_BF16;
            else
                return ifs_cli_fail("gen-model", IFS_EXIT_USAGE,
                                    "--dtype '%s': use f32, f16 or bf16", optarg);
            break;
        case O_VOCAB: vocab = optarg; break;
        case O_ENCODER: encoder = optarg; break;
        case O_INIT:
            if (!strcmp(optarg, "hf"))
                init = INIT_HF;
            else if (!strcmp(optarg, "test"))
                init = INIT_TEST;
            else
                return ifs_cli_fail("gen-model", IFS_EXIT_USAGE, "--init '%s': use hf or test",
                                    optarg);
            break;
        case O_HELP: usage(stdout); return IFS_EXIT_OK;
        case O_INPUT:
            if (!strcmp(optarg, "response"))
                pair_input = 0;
            else if (!strcmp(optarg, "pair"))
                pair_input = 1;
            else
                return ifs_cli_fail("gen-model", IFS_EXIT_USAGE,
                                    "--input '%s': use response or pair", optarg);
            break;
        case O_INSTR_MAX:
            if (parse_int(optarg, 1, 1 << 20, &instr_max))
                return ifs_cli_fail("gen-model", IFS_EXIT_USAGE,
                                    "--instruction-max-tokens '%s' must be an integer in [1, %d]",
                                    optarg, 1 << 20);
            break;
        default:
            usage(stderr);
            return ifs_cli_fail("gen-model", IFS_EXIT_USAGE, "unknown or incomplete option '%s'",
                                argv[optind - 1]);
        }
        if (dst) {
            if (parse_int(optarg, lo, hi, dst))
                return ifs_cli_fail("gen-model", IFS_EXIT_USAGE,
                                    "--%s '%s' must be an integer in [%d, %d]",
                                    opts[o - O_OUT].name, optarg, lo, hi);
            if (o != O_LABELS && o != O_VSIZE)
                sized = 1;
        }
    }
    if (optind < argc)
        return ifs_cli_fail("gen-model", IFS_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
    if (!out || !have_seed) {
        usage(stderr);
        return ifs_cli_fail("gen-model", IFS_EXIT_USAGE, "--out and --seed are required");
    }
    if (instr_max && pair_input != 1)
        return ifs_cli_fail("gen-model", IFS_EXIT_USAGE,
                            "--instruction-max-tokens needs --input pair");
    if (encoder && (sized || act_set || c.vocab_size > 0))
        return ifs_cli_fail("gen-model", IFS_EXIT_USAGE,
                            "with --encoder, sizes and --act come from its config.json");

    char err[1024] = "";
    int rc = IFS_EXIT_FAIL;
    arena a = {0};
    ifs_wts_model *enc = NULL;
    ifs_bert_layer *layers = NULL;
    char *vbuf = NULL;
    size_t vlen = 0;
    ifs_rng r = ifs_rng_seed(seed);
    ifs_bert_weights w;
    memset(&w, 0, sizeof w);

    long vocab_lines = -1;
    if (vocab) {
        if (ifs_io_read_file(vocab, VOCAB_CAP, &vbuf, &vlen, err, sizeof err)) {
            rc = ifs_cli_fail("gen-model", IFS_EXIT_FAIL, "%s", err);
            goto done;
        }
        vocab_lines = count_lines(vbuf, vlen);
        if (vocab_lines < 1 || vocab_lines > (1 << 24)) {
            rc = ifs_cli_fail("gen-model", IFS_EXIT_FAIL,
                              "%s: %ld lines is not a usable vocabulary", vocab, vocab_lines);
            goto done;
        }
    }

    if (encoder) {
        enc = ifs_wts_load(encoder, IFS_WTS_ENCODER_ONLY, err, sizeof err);
        if (!enc) {
            rc = ifs_cli_fail("gen-model", IFS_EXIT_FAIL, "%s", err);
            goto done;
        }
        w = *ifs_wts_weights(enc);
        if (vocab_lines > 0 && vocab_lines != w.cfg.vocab_size) {
            rc = ifs_cli_fail("gen-model", IFS_EXIT_FAIL,
                              "%s has %ld lines but %s/config.json says vocab_size %d", vocab,
                              vocab_lines, encoder, w.cfg.vocab_size);
            goto done;
        }
        if (w.cls_w && labels > 0 && labels != w.cfg.num_labels) {
            rc = ifs_cli_fail("gen-model", IFS_EXIT_USAGE,
                              "%s already has a %d-label classifier; --labels %d differs", encoder,
                              w.cfg.num_labels, labels);
            goto done;
        }
        if (!w.cls_w) {
            w.cfg.num_labels = labels > 0 ? labels : 2;
            for (int i = 0; i < w.cfg.num_labels; i++)
                snprintf(w.cfg.labels[i], IFS_LABEL_LEN, "LABEL_%d", i);
        }
    } else {
        if (vocab_lines > 0 && c.vocab_size > 0 && c.vocab_size != vocab_lines) {
            rc = ifs_cli_fail("gen-model", IFS_EXIT_USAGE, "--vocab-size %d but %s has %ld lines",
                              c.vocab_size, vocab, vocab_lines);
            goto done;
        }
        if (c.vocab_size < 0)
            c.vocab_size = vocab_lines > 0 ? (int32_t)vocab_lines : 30522;
        if (c.hidden % c.n_heads) {
            rc = ifs_cli_fail("gen-model", IFS_EXIT_USAGE,
                              "--hidden %d is not a multiple of --heads %d", c.hidden, c.n_heads);
            goto done;
        }
        c.num_labels = labels > 0 ? labels : 2;
        for (int i = 0; i < c.num_labels; i++)
            snprintf(c.labels[i], IFS_LABEL_LEN, "LABEL_%d", i);
        w.cfg = c;
        size_t H = (size_t)c.hidden, I = (size_t)c.intermediate;
        float *we = draw(&a, &r, (size_t)c.vocab_size * H, K_WEIGHT, init);
        w.word_emb = we;
        w.pos_emb = draw(&a, &r, (size_t)c.max_position * H, K_WEIGHT, init);
        w.type_emb = draw(&a, &r, (size_t)c.type_vocab * H, K_WEIGHT, init);
        w.emb_ln_g = draw(&a, &r, H, K_GAMMA, init);
        w.emb_ln_b = draw(&a, &r, H, K_BETA, init);
        if (!we || !w.pos_emb || !w.type_emb || !w.emb_ln_g || !w.emb_ln_b)
            goto oom;
        if (init == INIT_HF) /* nn.Embedding(padding_idx) keeps that row at zero */
            memset(we + (size_t)c.pad_token_id * H, 0, H * sizeof *we);
        layers = calloc((size_t)c.n_layers, sizeof *layers);
        if (!layers)
            goto oom;
        for (int l = 0; l < c.n_layers; l++) {
            ifs_bert_layer *L = &layers[l];
            L->q_w = draw(&a, &r, H * H, K_WEIGHT, init);
            L->q_b = draw(&a, &r, H, K_BIAS, init);
            L->k_w = draw(&a, &r, H * H, K_WEIGHT, init);
            L->k_b = draw(&a, &r, H, K_BIAS, init);
            L->v_w = draw(&a, &r, H * H, K_WEIGHT, init);
            L->v_b = draw(&a, &r, H, K_BIAS, init);
            L->ao_w = draw(&a, &r, H * H, K_WEIGHT, init);
            L->ao_b = draw(&a, &r, H, K_BIAS, init);
            L->ln1_g = draw(&a, &r, H, K_GAMMA, init);
            L->ln1_b = draw(&a, &r, H, K_BETA, init);
            L->i_w = draw(&a, &r, I * H, K_WEIGHT, init);
            L->i_b = draw(&a, &r, I, K_BIAS, init);
            L->o_w = draw(&a, &r, H * I, K_WEIGHT, init);
            L->o_b = draw(&a, &r, H, K_BIAS, init);
            L->ln2_g = draw(&a, &r, H, K_GAMMA, init);
            L->ln2_b = draw(&a, &r, H, K_BETA, init);
            if (!L->q_w || !L->q_b || !L->k_w || !L->k_b || !L->v_w || !L->v_b || !L->ao_w ||
                !L->ao_b || !L->ln1_g || !L->ln1_b || !L->i_w || !L->i_b || !L->o_w || !L->o_b ||
                !L->ln2_g || !L->ln2_b)
                goto oom;
        }
        w.layers = layers;
    }
    size_t H = (size_t)w.cfg.hidden;
    if (!w.pool_w) {
        w.pool_w = draw(&a, &r, H * H, K_WEIGHT, init);
        w.pool_b = draw(&a, &r, H, K_BIAS, init);
        if (!w.pool_w || !w.pool_b)
            goto oom;
    }
    if (!w.cls_w) {
        w.cls_w = draw(&a, &r, (size_t)w.cfg.num_labels * H, K_WEIGHT, init);
        w.cls_b = draw(&a, &r, (size_t)w.cfg.num_labels, K_BIAS, init);
        if (!w.cls_w || !w.cls_b)
            goto oom;
    }

    if (pair_input >= 0) { /* ifscore's own config.json fields (ifs_wts.h) */
        w.cfg.pair_input = pair_input;
        w.cfg.instruction_max_tokens = instr_max;
    }
    if (ifs_wts_save(out, &w, dtype, err, sizeof err)) {
        rc = ifs_cli_fail("gen-model", IFS_EXIT_FAIL, "%s", err);
        goto done;
    }
    /* vocabulary and tokenizer files */
    char src[4096];
    int bad = 0;
    if (vocab) {
        char dst[4096];
        snprintf(dst, sizeof dst, "%s/vocab.txt", out);
        bad = ifs_io_atomic_write(dst, vbuf, vlen, err, sizeof err);
    } else if (encoder && exists(encoder, "vocab.txt")) {
        snprintf(src, sizeof src, "%s/vocab.txt", encoder);
        bad = copy_file(src, out, "vocab.txt", err, sizeof err);
        /* tokenizer.json describes the same vocabulary; keep HF's fast path equal */
        for (int i = 0; !bad && i < 2; i++) {
            const char *f = i ? "special_tokens_map.json" : "tokenizer.json";
            if (exists(encoder, f)) {
                snprintf(src, sizeof src, "%s/%s", encoder, f);
                bad = copy_file(src, out, f, err, sizeof err);
            }
        }
    }
    if (!bad) {
        if (encoder && exists(encoder, "tokenizer_config.json")) {
            snprintf(src, sizeof src, "%s/tokenizer_config.json", encoder);
            bad = copy_file(src, out, "tokenizer_config.json", err, sizeof err);
        } else {
            bad = write_tokenizer_config(out, w.cfg.max_position, err, sizeof err);
        }
    }
    if (bad) {
        rc = ifs_cli_fail("gen-model", IFS_EXIT_FAIL, "%s", err);
        goto done;
    }
    /* the generated arrays are on disk now: free them before loading back,
       so the peak stays near one copy of the model */
    arena_free(&a);
    memset(&a, 0, sizeof a);
    free(layers);
    layers = NULL;
    ifs_wts_free(enc);
    enc = NULL;
    /* prove the folder loads as a full classifier before saying it exists */
    ifs_wts_model *back = ifs_wts_load(out, 0, err, sizeof err);
    if (!back) {
        rc = ifs_cli_fail("gen-model", IFS_EXIT_FAIL, "wrote %s but it does not load back: %s", out,
                          err);
        goto done;
    }
    const ifs_bert_config *bc = &ifs_wts_weights(back)->cfg;
    printf("gen-model: wrote %s: %d layers, hidden %d, %d heads, intermediate %d, vocab %d, "
           "%d labels, %s, %s, init %s, seed %llu%s%s\nfingerprint %s\n",
           out, bc->n_layers, bc->hidden, bc->n_heads, bc->intermediate, bc->vocab_size,
           bc->num_labels, ifs_wts_act_name(bc->act),
           dtype == IFS_WTS_F32   ? "f32"
           : dtype == IFS_WTS_F16 ? "f16"
                                  : "bf16",
           init == INIT_HF ? "hf" : "test", (unsigned long long)seed,
           encoder ? ", encoder from " : "", encoder ? encoder : "", ifs_wts_fingerprint(back));
    ifs_wts_free(back);
    rc = IFS_EXIT_OK;
    goto done;
oom:
    rc = ifs_cli_fail("gen-model", IFS_EXIT_FAIL, "out of memory");
done:
    free(vbuf);
    free(layers);
    arena_free(&a);
    ifs_wts_free(enc);
    return rc;
}
