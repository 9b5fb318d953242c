/*
 * test_cpu_forward.c - the threaded "cpu" backend against the single-threaded
 * all-rows reference (ifs_cpu_forward_reference), on small random models
 * built in memory; then the properties the scheduler relies on: logits are
 * bit-identical at any thread count and whatever sequences share a batch,
 * and malformed requests are refused with words.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_test_model.h"
#include "ifs_backend.h"
#include "ifs_cpu_ops.h"
#include "ifs_test.h"

typedef struct {
    const char *name;
    int vocab, hidden, layers, heads, inter, max_pos, types, labels;
    ifs_act act;
    int n_seqs;
    int with_types;
} model_case;

static const model_case cases[] = {
    {"tiny_gelu_model_matches_reference_on_mixed_lengths", 100, 64, 3, 4, 128, 64, 2, 2,
     IFS_ACT_GELU, 23, 0},
    {"gelu_tanh_model_with_three_labels_and_token_types_matches_reference", 120, 96, 2, 12, 200, 80,
     2, 3, IFS_ACT_GELU_TANH, 17, 1},
    {"relu_model_with_one_layer_matches_reference", 50, 32, 1, 2, 64, 40, 1, 4, IFS_ACT_RELU, 9, 0},
    {"model_without_layers_classifies_embeddings", 30, 16, 0, 2, 32, 16, 2, 2, IFS_ACT_GELU, 5, 1},
};

static int forward(const ifs_bert_weights *w, int threads, const int32_t *ids, const int32_t *tys,
                   const int32_t *off, int32_t S, float *logits, float *cls)
{
    ifs_backend_opts o = ifs_backend_default_opts();
    o.n_threads = threads;
    o.max_batch_tokens = off[S] > 0 ? off[S] : 1;
    o.max_batch_seqs = S > 0 ? S : 1;
    ifs_backend *b;
    char err[512];
    int rc = ifs_backend_create("cpu", w, &o, &b, err, sizeof err);
    if (rc) {
        fprintf(stderr, "create: %s\n", err);
        return rc;
    }
    ifs_batch batch = {
        .n_seqs = S, .n_tokens = off[S], .input_ids = ids, .type_ids = tys, .seq_off = off};
    rc = ifs_backend_forward(b, &batch, logits, cls);
    if (rc)
        fprintf(stderr, "forward: %s\n", ifs_backend_error(b));
    ifs_backend_free(b);
    return rc;
}

static int argmax(const float *v, int n)
{
    int k = 0;
    for (int i = 1; i < n; i++)
        if (v[i] > v[k])
            k = i;
    return k;
}

static void run_case(const model_case *mc, uint64_t seed)
{
    tm_model m;
    tm_model_init(&m, mc->vocab, mc->hidden, mc->layers, mc->heads, mc->inter, mc->max_pos,
                  mc->types, mc->labels, mc->act, seed);
    const ifs_bert_weights *w = &m.w;
    int S = mc->n_seqs, C = mc->labels, H = mc->hidden;
    uint64_t s = seed * 31 + 1;
    int32_t *off = malloc(sizeof(int32_t) * (S + 1));
    off[0] = 0;
    for (int i = 0; i < S; i++) {
        /* lengths 1, max_pos and random in between */
        int L = i == 0 ? 1 : i == 1 ? mc->max_pos : 1 + (int)(tm_next(&s) % mc->max_pos);
        off[i + 1] = off[i] + L;
    }
    int T = off[S];
    int32_t *ids = malloc(sizeof(int32_t) * T), *tys = malloc(sizeof(int32_t) * T);
    for (int i = 0; i < S; i++)
        for (int t = off[i]; t < off[i + 1]; t++) {
            ids[t] = t == off[i] ? 1 : (int32_t)(tm_next(&s) % mc->vocab);
            tys[t] = mc->with_types && t - off[i] > (off[i + 1] - off[i]) / 2 ? 1 : 0;
        }
    const int32_t *ty = mc->with_types ? tys : NULL;
    size_t nl = (size_t)S * C, nc = (size_t)S * H;
    float *ref = malloc(nl * 4), *refc = malloc(nc * 4);
    float *got = malloc(nl * 4), *gotc = malloc(nc * 4), *other = malloc(nl * 4);
    float *otherc = malloc(nc * 4);

    IFS_CHECK(ifs_cpu_forward_reference(w, ids, ty, off, S, ref, refc) == 0, "%s: reference",
              mc->name);
    IFS_CHECK(forward(w, 1, ids, ty, off, S, got, gotc) == 0, "%s: forward", mc->name);
    double worst = 0, worstc = 0;
    for (size_t i = 0; i < nl; i++)
        worst = fmax(worst, fabs(got[i] - ref[i]));
    for (size_t i = 0; i < nc; i++)
        worstc = fmax(worstc, fabs(gotc[i] - refc[i]));
    IFS_CHECK(worst <= 1e-5 && worstc <= 1e-5, "%s: logits off by %.3g, cls rows by %.3g", mc->name,
              worst, worstc);
    for (int i = 0; i < S; i++)
        IFS_CHECK(argmax(got + i * C, C) == argmax(ref + i * C, C), "%s: seq %d label", mc->name,
                  i);

    /* the same bits at any thread count */
    static const int threads[] = {2, 3, 8};
    for (size_t k = 0; k < 3; k++) {
        IFS_CHECK(forward(w, threads[k], ids, ty, off, S, other, otherc) == 0, "forward");
        IFS_CHECK(!memcmp(other, got, nl * 4) && !memcmp(otherc, gotc, nc * 4),
                  "%s: %d threads give different logits than 1", mc->name, threads[k]);
    }

    /* each sequence alone, and the batch reversed: the same bits (the
     * backend cuts GEMM blocks per sequence and runs [CLS] rows one per
     * call, so a sequence's arithmetic does not depend on its neighbours;
     * the report's byte identity across batch budgets rests on this) */
    int same_bits = 1;
    double worst_alone = 0;
    for (int i = 0; i < S; i++) {
        int32_t o1[2] = {0, off[i + 1] - off[i]};
        float l1[IFS_MAX_LABELS];
        IFS_CHECK(forward(w, 2, ids + off[i], ty ? ty + off[i] : NULL, o1, 1, l1, NULL) == 0,
                  "forward alone");
        for (int c = 0; c < C; c++) {
            worst_alone = fmax(worst_alone, fabs(l1[c] - got[i * C + c]));
            same_bits &= l1[c] == got[i * C + c];
        }
        IFS_CHECK(argmax(l1, C) == argmax(got + i * C, C), "%s: seq %d alone changes its label",
                  mc->name, i);
    }
    IFS_CHECK(worst_alone <= 1e-5, "%s: a sequence alone differs by %.3g", mc->name, worst_alone);
    int32_t *roff = malloc(sizeof(int32_t) * (S + 1)), *rids = malloc(sizeof(int32_t) * T);
    int32_t *rtys = malloc(sizeof(int32_t) * T);
    roff[0] = 0;
    for (int i = 0; i < S; i++) {
        int j = S - 1 - i, L = off[j + 1] - off[j];
        memcpy(rids + roff[i], ids + off[j], sizeof(int32_t) * L);
        memcpy(rtys + roff[i], tys + off[j], sizeof(int32_t) * L);
        roff[i + 1] = roff[i] + L;
    }
    IFS_CHECK(forward(w, 3, rids, ty ? rtys : NULL, roff, S, other, NULL) == 0, "reversed");
    for (int i = 0; i < S; i++) {
        int j = S - 1 - i;
        IFS_CHECK(argmax(other + i * C, C) == argmax(got + j * C, C), "%s: reversed label",
                  mc->name);
        for (int c = 0; c < C; c++)
            same_bits &= other[i * C + c] == got[j * C + c];
    }
    IFS_CHECK(same_bits,
              "%s: a sequence's logits change with what it is batched with "
              "(max %.3g)",
              mc->name, worst_alone);
    printf("%s: max |backend - reference| logits %.3g, cls %.3g; alone vs batched %.3g%s\n",
           mc->name, worst, worstc, worst_alone,
           same_bits ? " (bit-identical across batch shapes)" : " (NOT bit-identical)");
    free(off);
    free(ids);
    free(tys);
    free(ref);
    free(refc);
    free(got);
    free(gotc);
    free(other);
    free(otherc);
    free(roff);
    free(rids);
    free(rtys);
    tm_model_free(&m);
}

static void malformed_requests_are_refused_with_words(void)
{
    tm_model m;
    tm_model_init(&m, 20, 16, 1, 2, 32, 8, 2, 2, IFS_ACT_GELU, 5);
    ifs_backend_opts o = ifs_backend_default_opts();
    o.max_batch_tokens = 16;
    o.max_batch_seqs = 4;
    ifs_backend *b = NULL;
    char err[512] = "";
    o.dtype = IFS_DT_F16;
    IFS_CHECK(ifs_backend_create("cpu", &m.w, &o, &b, err, sizeof err) == IFS_BK_EUNSUP && !b &&
                  strstr(err, "fp32"),
              "fp16 compute is refused: '%s'", err);
    o.dtype = IFS_DT_F32;
    IFS_CHECK(ifs_backend_create("cpu", &m.w, &o, &b, err, sizeof err) == IFS_BK_OK, "%s", err);
    int32_t ids[20] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    int32_t off_long[] = {0, 9};         /* longer than max_position 8 */
    int32_t off_many[] = {0, 8, 16, 20}; /* 20 tokens > max_batch_tokens */
    float logits[8];
    ifs_batch bad = {.n_seqs = 1, .n_tokens = 9, .input_ids = ids, .seq_off = off_long};
    IFS_CHECK(ifs_backend_forward(b, &bad, logits, NULL) == IFS_BK_EARG &&
                  strstr(ifs_backend_error(b), "length"),
              "too long: '%s'", ifs_backend_error(b));
    ifs_batch big = {.n_seqs = 3, .n_tokens = 20, .input_ids = ids, .seq_off = off_many};
    IFS_CHECK(ifs_backend_forward(b, &big, logits, NULL) == IFS_BK_EARG, "too many tokens");
    ifs_batch empty = {.n_seqs = 0, .n_tokens = 0, .input_ids = ids, .seq_off = off_long};
    IFS_CHECK(ifs_backend_forward(b, &empty, logits, NULL) == IFS_BK_OK, "empty batch");
    IFS_CHECK(!strcmp(ifs_backend_kind(b), "cpu"), "kind");
    ifs_backend_free(b);
    ifs_backend_free(NULL);
    tm_model_free(&m);
}

int main(void)
{
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_case(&cases[i], 1000 + i);
    malformed_requests_are_refused_with_words();
    for (int st = IFS_BK_EUNSUP; st <= IFS_BK_OK; st++)
        IFS_CHECK(strcmp(ifs_backend_strerror(st), "unknown status") != 0,
                  "every_backend_status_has_words (%d)", st);
    return ifs_test_done("cpu forward");
}
