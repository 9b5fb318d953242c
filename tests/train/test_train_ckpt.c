/*
 * test_train_ckpt.c - train-head's library pieces without the binary:
 *
 *   - a head folder of N = 2 trained layers (ifs_train_net_write_head) read back
 *     by ifs_train_net_read_head gives the same N, the same parameters bit for
 *     bit, the pair input mode and the trained max length;
 *   - the head alone (N = 0) round-trips too, and a head.safetensors whose
 *     tensor count is not 4 + 16 N of this encoder is refused, naming it;
 *   - the feature cache key (ifs_rset_cache_header) changes with the token
 *     types of pairs, the depth and the encoder; a cache saved is loaded
 *     back for its own key only.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_rset.h"
#include "ifs_test.h"
#include "ifs_train.h"
#include "ifs_wts.h"
#include "../cpu/cpu_test_model.h"

static const char *tmpdir(void)
{
    const char *t = getenv("IFS_TEST_TMP");
    return t && *t ? t : "/tmp";
}

static void head_folder_round_trips(int N)
{
    tm_model m;
    tm_model_init(&m, 30, 8, 3, 2, 16, 24, 2, 2, IFS_ACT_GELU, 5 + (uint64_t)N);
    const ifs_bert_config *cfg = &m.w.cfg;
    ifs_train_net t, back;
    IFS_CHECK(!ifs_train_net_alloc(&t, cfg, N), "alloc");
    ifs_train_net_init(&t, cfg, &m.layers[3 - N], m.w.pool_w, m.w.pool_b, 7);
    for (size_t i = 0; i < t.n_params; i++)
        t.mem[i] += 1e-3f * (float)(i % 7); /* "trained" */
    char dir[1024], err[1024];
    snprintf(dir, sizeof dir, "%s/head%d", tmpdir(), N);
    const ifs_train_input in = {1, 12};
    int rc =
        ifs_train_net_write_head(dir, "/nonexistent-encoder", &m.w, &t, &in, 20, err, sizeof err);
    IFS_CHECK(rc == 0, "write_head N=%d: %s", N, err);
    ifs_train_input got = {0, 0};
    int max_len = 0;
    rc = ifs_train_net_read_head(dir, &m.w, &back, &got, &max_len, err, sizeof err);
    IFS_CHECK(rc == 0, "read_head N=%d: %s", N, err);
    int same = rc == 0 && back.n_layers == N && back.n_params == t.n_params &&
               !memcmp(back.mem, t.mem, t.n_params * sizeof(float));
    IFS_CHECK(same, "N=%d: read back %d layers, other parameters", N, back.n_layers);
    IFS_CHECK(got.pair == 1 && got.instr_max == 12 && max_len == 20,
              "N=%d: input mode %d/%d, max_len %d", N, got.pair, (int)got.instr_max, max_len);
    printf(
        "%s a head folder of %d trained layers reads back bit for bit, pair mode and length kept\n",
        same && got.pair == 1 && max_len == 20 ? "ok  " : "FAIL", N);
    ifs_train_net_free(&back);
    ifs_train_net_free(&t);
    tm_model_free(&m);
}

static void foreign_head_is_refused(void)
{
    /* layers trained on a 3-layer encoder, attached to a 1-layer one */
    tm_model deep, shallow;
    tm_model_init(&deep, 30, 8, 3, 2, 16, 24, 2, 2, IFS_ACT_GELU, 1);
    tm_model_init(&shallow, 30, 8, 1, 2, 16, 24, 2, 2, IFS_ACT_GELU, 2);
    ifs_train_net t, back;
    IFS_CHECK(!ifs_train_net_alloc(&t, &deep.w.cfg, 2), "alloc");
    ifs_train_net_init(&t, &deep.w.cfg, &deep.layers[1], NULL, NULL, 1);
    char dir[1024], err[1024] = "";
    snprintf(dir, sizeof dir, "%s/head_deep", tmpdir());
    const ifs_train_input in = {0, 0};
    IFS_CHECK(
        ifs_train_net_write_head(dir, "/nonexistent", &deep.w, &t, &in, 24, err, sizeof err) == 0,
        "write: %s", err);
    ifs_train_input got;
    int rc = ifs_train_net_read_head(dir, &shallow.w, &back, &got, NULL, err, sizeof err);
    IFS_CHECK(rc != 0 && strstr(err, "36 tensors") && strstr(err, "head.safetensors"),
              "a 2-layer head on a 1-layer encoder: rc %d, '%s'", rc, err);
    IFS_CHECK(back.mem == NULL && back.layers == NULL, "a refused head left memory in t");
    printf("%s a head of more layers than the encoder has is refused: %s\n",
           rc != 0 ? "ok  " : "FAIL", err);
    ifs_train_net_free(&t);
    ifs_train_net_free(NULL);
    tm_model_free(&deep);
    tm_model_free(&shallow);
}

static void cache_key_covers_pairs(void)
{
    int32_t off[3] = {0, 3, 5}, ids[5] = {101, 7, 102, 101, 102};
    int32_t types[5] = {0, 0, 0, 0, 1};
    uint8_t split[2] = {0, 1};
    int32_t label[2] = {0, 1};
    ifs_rset a = {.n = 2, .label = label, .split = split, .off = off, .ids = ids};
    ifs_rset b = a;
    b.types = types;
    char fp[65];
    memset(fp, 'a', 64);
    fp[64] = 0;
    unsigned char ha[IFS_RSET_CACHE_HDR], hb[IFS_RSET_CACHE_HDR], hc[IFS_RSET_CACHE_HDR],
        hd[IFS_RSET_CACHE_HDR];
    ifs_rset_cache_header(&a, 4, 8, fp, ha);
    ifs_rset_cache_header(&b, 4, 8, fp, hb);
    ifs_rset_cache_header(&a, 5, 8, fp, hc);
    fp[0] = 'b';
    ifs_rset_cache_header(&a, 4, 8, fp, hd);
    IFS_CHECK(memcmp(ha, hb, sizeof ha), "pair types do not change the cache key");
    IFS_CHECK(memcmp(ha, hc, sizeof ha) && !memcmp(hc, "IFSHID05", 8), "the depth does not");
    IFS_CHECK(memcmp(ha, hd, sizeof ha), "the encoder does not");
    char path[1024], err[512];
    snprintf(path, sizeof path, "%s/feat.bin", tmpdir());
    float X[5 * 8], Y[5 * 8];
    for (int i = 0; i < 40; i++)
        X[i] = (float)i * 0.25f;
    IFS_CHECK(ifs_rset_cache_save(path, hb, X, 40, err, sizeof err) == 0, "save: %s", err);
    IFS_CHECK(ifs_rset_cache_load(path, hb, Y, 40) == 1 && !memcmp(X, Y, sizeof X),
              "the cache is not loaded back for its own key");
    IFS_CHECK(ifs_rset_cache_load(path, ha, Y, 40) == 0, "response-only ids took the pairs' cache");
    IFS_CHECK(ifs_rset_cache_load(path, hb, Y, 39) == 0, "a cache of another size was taken");
    printf("ok   the feature cache key covers pair types, depth and encoder\n");
}

int main(void)
{
    head_folder_round_trips(2);
    head_folder_round_trips(0);
    foreign_head_is_refused();
    cache_key_covers_pairs();
    return ifs_test_done("train_ckpt");
}
