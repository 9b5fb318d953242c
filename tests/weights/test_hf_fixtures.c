/*
 * test_hf_fixtures.c - checkpoints written by transformers' own
 * save_pretrained (tests/weights/fixtures, made by make_hf_fixtures.py with
 * torch; CI has no torch) load in ifscore with the values HF itself holds
 * after from_pretrained: a single F32 file, the same model sharded with an
 * index, and stored as BF16. Compared per tensor: first and last value
 * exactly, the sum within 1e-9 relative.
 */
#include <cjson/cJSON.h>
#include <math.h>

#include "wts_fixture.h"

/* Our array for a HF name in this tiny model (2 layers, hidden 8, inter 16). */
static const float *lookup(const ifs_bert_weights *w, const char *name, size_t *n)
{
    const ifs_bert_config *c = &w->cfg;
    size_t H = (size_t)c->hidden, I = (size_t)c->intermediate;
    static const struct {
        const char *s;
        size_t off;
        int kind;
    } layer[] = {
        {"attention.self.query.weight", offsetof(ifs_bert_layer, q_w), 0},
        {"attention.self.query.bias", offsetof(ifs_bert_layer, q_b), 1},
        {"attention.self.key.weight", offsetof(ifs_bert_layer, k_w), 0},
        {"attention.self.key.bias", offsetof(ifs_bert_layer, k_b), 1},
        {"attention.self.value.weight", offsetof(ifs_bert_layer, v_w), 0},
        {"attention.self.value.bias", offsetof(ifs_bert_layer, v_b), 1},
        {"attention.output.dense.weight", offsetof(ifs_bert_layer, ao_w), 0},
        {"attention.output.dense.bias", offsetof(ifs_bert_layer, ao_b), 1},
        {"attention.output.LayerNorm.weight", offsetof(ifs_bert_layer, ln1_g), 1},
        {"attention.output.LayerNorm.bias", offsetof(ifs_bert_layer, ln1_b), 1},
        {"intermediate.dense.weight", offsetof(ifs_bert_layer, i_w), 2},
        {"intermediate.dense.bias", offsetof(ifs_bert_layer, i_b), 3},
        {"output.dense.weight", offsetof(ifs_bert_layer, o_w), 2},
        {"output.dense.bias", offsetof(ifs_bert_layer, o_b), 1},
        {"output.LayerNorm.weight", offsetof(ifs_bert_layer, ln2_g), 1},
        {"output.LayerNorm.bias", offsetof(ifs_bert_layer, ln2_b), 1},
    };
    static const struct {
        const char *s;
        size_t off;
        int rows;
    } top[] = {
        {"bert.embeddings.word_embeddings.weight", offsetof(ifs_bert_weights, word_emb), 'v'},
        {"bert.embeddings.position_embeddings.weight", offsetof(ifs_bert_weights, pos_emb), 'p'},
        {"bert.embeddings.token_type_embeddings.weight", offsetof(ifs_bert_weights, type_emb), 't'},
        {"bert.embeddings.LayerNorm.weight", offsetof(ifs_bert_weights, emb_ln_g), 1},
        {"bert.embeddings.LayerNorm.bias", offsetof(ifs_bert_weights, emb_ln_b), 1},
        {"bert.pooler.dense.weight", offsetof(ifs_bert_weights, pool_w), 'h'},
        {"bert.pooler.dense.bias", offsetof(ifs_bert_weights, pool_b), 1},
        {"classifier.weight", offsetof(ifs_bert_weights, cls_w), 'l'},
        {"classifier.bias", offsetof(ifs_bert_weights, cls_b), 0},
    };
    for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
        if (!strcmp(name, top[i].s)) {
            int r = top[i].rows;
            *n = r == 'v'   ? (size_t)c->vocab_size * H
                 : r == 'p' ? (size_t)c->max_position * H
                 : r == 't' ? (size_t)c->type_vocab * H
                 : r == 'h' ? H * H
                 : r == 'l' ? (size_t)c->num_labels * H
                 : r == 1   ? H
                            : (size_t)c->num_labels;
            return *(const float *const *)((const char *)w + top[i].off);
        }
    int l;
    char rest[128];
    if (sscanf(name, "bert.encoder.layer.%d.%127s", &l, rest) != 2 || l < 0 || l >= c->n_layers)
        return NULL;
    for (size_t i = 0; i < sizeof layer / sizeof layer[0]; i++)
        if (!strcmp(rest, layer[i].s)) {
            int k = layer[i].kind;
            *n = k == 0 ? H * H : k == 1 ? H : k == 2 ? H * I : I;
            return *(const float *const *)((const char *)&w->layers[l] + layer[i].off);
        }
    return NULL;
}

int main(void)
{
    const char *src = ifs_test_env("IFS_SOURCE_DIR", NULL);
    if (!src)
        IFS_SKIP("IFS_SOURCE_DIR is not set (run through ctest)");
    char base[4096], path[4200];
    snprintf(base, sizeof base, "%s/tests/weights/fixtures", src);
    snprintf(path, sizeof path, "%s/hf_tiny_expected.json", base);
    char *text = ifs_test_slurp(path, NULL);
    IFS_CHECK(text != NULL, "the fixture %s is readable", path);
    cJSON *root = text ? cJSON_Parse(text) : NULL;
    const cJSON *dirs = cJSON_GetObjectItemCaseSensitive(root, "dirs");
    IFS_CHECK(cJSON_IsObject(dirs) && cJSON_GetArraySize(dirs) == 3, "the fixture lists 3 folders");
    for (const cJSON *d = dirs ? dirs->child : NULL; d; d = d->next) {
        char dir[4300], err[1024];
        snprintf(dir, sizeof dir, "%s/%s", base, d->string);
        ifs_wts_model *m = ifs_wts_load(dir, 0, err, sizeof err);
        IFS_CHECK(m != NULL, "hf_save_pretrained_%s_loads: %s", d->string, err);
        if (!m)
            continue;
        const ifs_bert_weights *w = ifs_wts_weights(m);
        IFS_CHECK(w->cfg.n_layers == 2 && w->cfg.hidden == 8 && w->cfg.num_labels == 3 &&
                      w->cfg.act == IFS_ACT_GELU_TANH && w->cfg.ln_eps == 1e-7f &&
                      !strcmp(w->cfg.labels[2], "LABEL_2"),
                  "%s: config as transformers wrote it", d->string);
        const cJSON *tensors = cJSON_GetObjectItemCaseSensitive(d, "tensors");
        int seen = 0, bad = 0;
        for (const cJSON *t = tensors ? tensors->child : NULL; t; t = t->next) {
            size_t n = 0;
            const float *x = lookup(w, t->string, &n);
            seen++;
            if (!x || cJSON_GetArraySize(t) != 4 ||
                (size_t)cJSON_GetArrayItem(t, 3)->valuedouble != n) {
                if (bad++ < 5)
                    IFS_CHECK(0, "%s: tensor %s has no loaded array of its size", d->string,
                              t->string);
                continue;
            }
            double first = cJSON_GetArrayItem(t, 0)->valuedouble;
            double last = cJSON_GetArrayItem(t, 1)->valuedouble;
            double sum = cJSON_GetArrayItem(t, 2)->valuedouble, s = 0, a = 0;
            for (size_t i = 0; i < n; i++)
                s += x[i], a += fabs(x[i]);
            if ((x[0] != first || x[n - 1] != last || fabs(s - sum) > 1e-9 * a + 1e-12) &&
                bad++ < 5)
                IFS_CHECK(0, "%s: %s: HF first %.9g last %.9g sum %.12g; ours %.9g %.9g %.12g",
                          d->string, t->string, first, last, sum, x[0], x[n - 1], s);
        }
        IFS_CHECK(seen == 5 + 16 * 2 + 4 && bad == 0,
                  "%s: every tensor HF holds equals ours (%d tensors, %d differ)", d->string, seen,
                  bad);
        ifs_wts_free(m);
    }
    cJSON_Delete(root);
    free(text);
    return ifs_test_done("hf_fixtures");
}
