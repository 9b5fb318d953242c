/*
 * train_data.c - the response set of train-head (ifs_rset.h): records
 * tokenized once (the response alone, or the instruction and the response
 * as a pair), the encoder features over them in length-sorted batches, and
 * the file cache of those features.
 */
#include "ifs_rset.h"

#include <cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_io.h"
#include "ifs_sha256.h"
#include "ifs_shard.h"
#include "ifs_train.h"

/* ---- the response set ------------------------------------------------- */

static const char *const fixed_kinds[IFS_RSET_FIXED_KINDS] = {"R", "Ic", "Ic+R", "other"};

static void name_fixed_kinds(ifs_rset *d)
{
    if (d->n_kinds)
        return;
    for (int k = 0; k < IFS_RSET_FIXED_KINDS; k++)
        snprintf(d->kind_names[k], IFS_RSET_KIND_LEN, "%s", fixed_kinds[k]);
    d->n_kinds = IFS_RSET_FIXED_KINDS;
}

const char *ifs_rset_kind_name(const ifs_rset *d, int k)
{
    if (k >= 0 && k < IFS_RSET_FIXED_KINDS)
        return fixed_kinds[k];
    return d && k >= 0 && k < d->n_kinds ? d->kind_names[k] : NULL;
}

/* The number of kind string s, named on first sight. */
static uint8_t kind_of(ifs_rset *d, const char *s)
{
    for (int k = 0; k < d->n_kinds; k++)
        if (!strcmp(d->kind_names[k], s))
            return (uint8_t)k;
    if (d->n_kinds == IFS_RSET_MAX_KINDS || strlen(s) >= IFS_RSET_KIND_LEN)
        return IFS_RSET_KIND_OTHER;
    snprintf(d->kind_names[d->n_kinds], IFS_RSET_KIND_LEN, "%s", s);
    return (uint8_t)d->n_kinds++;
}

static int push(ifs_rset *d, int32_t label, uint8_t split, uint8_t kind, uint16_t file,
                uint64_t line, const int32_t *ids, const int32_t *types, int32_t nids)
{
    if (d->n + 1 >= d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 4096;
        int32_t *l = realloc(d->label, cap * sizeof *l);
        if (l)
            d->label = l;
        uint8_t *s = realloc(d->split, cap);
        if (s)
            d->split = s;
        uint8_t *k = realloc(d->kind, cap);
        if (k)
            d->kind = k;
        int32_t *o = realloc(d->off, (cap + 1) * sizeof *o);
        if (o)
            d->off = o;
        uint64_t *ln = realloc(d->line, cap * sizeof *ln);
        if (ln)
            d->line = ln;
        uint16_t *fi = realloc(d->file, cap * sizeof *fi);
        if (fi)
            d->file = fi;
        if (!l || !s || !k || !o || !ln || !fi)
            return -1;
        if (!d->cap)
            d->off[0] = 0;
        d->cap = cap;
    }
    size_t need = (size_t)d->off[d->n] + (size_t)nids;
    if (need > d->ids_cap) {
        size_t cap = d->ids_cap ? d->ids_cap * 2 : 1 << 20;
        while (cap < need)
            cap *= 2;
        int32_t *ni = realloc(d->ids, cap * sizeof *ni);
        if (!ni)
            return -1;
        d->ids = ni;
        if (types) {
            int32_t *nt = realloc(d->types, cap * sizeof *nt);
            if (!nt)
                return -1;
            d->types = nt;
        }
        d->ids_cap = cap;
    }
    memcpy(d->ids + d->off[d->n], ids, (size_t)nids * sizeof *ids);
    if (types)
        memcpy(d->types + d->off[d->n], types, (size_t)nids * sizeof *types);
    d->label[d->n] = label;
    d->split[d->n] = split;
    d->kind[d->n] = kind;
    d->line[d->n] = line;
    d->file[d->n] = file;
    d->off[d->n + 1] = d->off[d->n] + nids;
    d->n++;
    return 0;
}

void ifs_rset_free(ifs_rset *d)
{
    if (!d)
        return;
    free(d->label);
    free(d->split);
    free(d->kind);
    free(d->off);
    free(d->ids);
    free(d->line);
    free(d->file);
    free(d->types);
    memset(d, 0, sizeof *d);
}

int ifs_rset_load(ifs_rset *d, const char *path, int file_no, const ifs_tok *tok, ifs_tok_state *st,
                  const ifs_rset_opts *eo, char *err, size_t errlen)
{
    const char *text_field = eo->text_field;
    const int max_len = eo->max_len;
    ifs_shard_reader *r;
    name_fixed_kinds(d);
    if (ifs_shard_open(path, NULL, &r, err, errlen))
        return -1;
    int32_t *ids = malloc((size_t)max_len * sizeof *ids);
    int32_t *types = malloc((size_t)max_len * sizeof *types);
    int rc = ids && types ? 0 : -1;
    if (rc)
        snprintf(err, errlen, "out of memory");
    ifs_shard_line ln;
    while (rc == 0 && ifs_shard_next(r, &ln) == IFS_SHARD_LINE) {
        d->lines++;
        if (ln.reason != IFS_REJECT_NONE) {
            snprintf(err, errlen, "%s:%llu (offset %llu): %s %s", path,
                     (unsigned long long)ln.line_no, (unsigned long long)ln.offset,
                     ifs_reject_name(ln.reason), ln.detail);
            rc = -1;
            break;
        }
        if (ln.len == 0) {
            d->skipped++;
            continue;
        }
        cJSON *j = cJSON_ParseWithLength(ln.data, ln.len);
        const cJSON *t = j ? cJSON_GetObjectItemCaseSensitive(j, text_field) : NULL;
        const cJSON *l = j ? cJSON_GetObjectItemCaseSensitive(j, "label") : NULL;
        const cJSON *s = j ? cJSON_GetObjectItemCaseSensitive(j, "split") : NULL;
        const cJSON *k = j ? cJSON_GetObjectItemCaseSensitive(j, "kind") : NULL;
        if (!cJSON_IsString(t) || !cJSON_IsNumber(l) || !cJSON_IsString(s) ||
            (l->valuedouble != 0 && l->valuedouble != 1)) {
            snprintf(err, errlen,
                     "%s:%llu: a response-set record needs string \"%s\", "
                     "label 0 or 1 and string \"split\"",
                     path, (unsigned long long)ln.line_no, text_field);
            cJSON_Delete(j);
            rc = -1;
            break;
        }
        uint8_t split = !strcmp(s->valuestring, "train")        ? IFS_SPLIT_TRAIN
                        : !strcmp(s->valuestring, "validation") ? IFS_SPLIT_VALIDATION
                        : !strcmp(s->valuestring, "test")       ? IFS_SPLIT_TEST
                        : !strcmp(s->valuestring, "holdout")    ? IFS_SPLIT_HOLDOUT
                                                                : 255;
        if (split == 255) {
            snprintf(err, errlen,
                     "%s:%llu: split \"%s\" is not train, validation, test or "
                     "holdout",
                     path, (unsigned long long)ln.line_no, s->valuestring);
            cJSON_Delete(j);
            rc = -1;
            break;
        }
        uint8_t kind = cJSON_IsString(k) ? kind_of(d, k->valuestring) : IFS_RSET_KIND_OTHER;
        int32_t n = 0;
        ifs_tok_result res;
        int trc, bad_in_b = 1;
        if (eo->instr_field) {
            const cJSON *in = cJSON_GetObjectItemCaseSensitive(j, eo->instr_field);
            if (!cJSON_IsString(in)) {
                snprintf(err, errlen,
                         "%s:%llu: no string \"%s\" (the instruction of a pair, "
                         "--instruction-field)",
                         path, (unsigned long long)ln.line_no, eo->instr_field);
                cJSON_Delete(j);
                rc = -1;
                break;
            }
            trc = ifs_tok_encode_pair_cap(tok, st, in->valuestring, strlen(in->valuestring),
                                          t->valuestring, strlen(t->valuestring), max_len,
                                          eo->instr_max, ids, types, &n, &res, &bad_in_b);
        } else {
            trc = ifs_tok_encode(tok, st, t->valuestring, strlen(t->valuestring), max_len, ids,
                                 NULL, &n, &res);
        }
        if (trc) {
            snprintf(err, errlen, "%s:%llu: %s%s", path, (unsigned long long)ln.line_no,
                     ifs_tok_strerror(trc),
                     trc != IFS_TOK_EUTF8 ? ""
                     : bad_in_b           ? " in the text"
                                          : " in the instruction");
            cJSON_Delete(j);
            rc = -1;
            break;
        }
        if (push(d, (int32_t)l->valuedouble, split, kind, (uint16_t)file_no, ln.line_no, ids,
                 eo->instr_field ? types : NULL, n)) {
            snprintf(err, errlen, "out of memory");
            rc = -1;
        }
        cJSON_Delete(j);
    }
    free(ids);
    free(types);
    ifs_shard_free(r);
    return rc;
}

/* ---- features --------------------------------------------------------- */

typedef struct {
    int32_t len;
    size_t idx;
} by_len;

static int cmp_len(const void *a, const void *b)
{
    const by_len *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->idx < y->idx ? -1 : x->idx > y->idx;
}

size_t ifs_rset_feature_rows(const ifs_rset *d, int depth)
{
    return depth < 0 ? d->n : (size_t)d->off[d->n];
}

int ifs_rset_features(ifs_backend *bk, const ifs_rset *d, int hidden, int depth, int32_t max_tokens,
                      int32_t max_seqs, float *X, ifs_rset_progress progress, void *ctx, char *err,
                      size_t errlen)
{
    by_len *order = malloc(d->n * sizeof *order);
    int32_t *seq_off = malloc(((size_t)max_seqs + 1) * sizeof *seq_off);
    int32_t *ids = malloc((size_t)max_tokens * sizeof *ids);
    int32_t *types = malloc((size_t)max_tokens * sizeof *types);
    float *logits = malloc((size_t)max_seqs * IFS_MAX_LABELS * sizeof *logits);
    float *cls = malloc((size_t)(depth < 0 ? max_seqs : max_tokens) * hidden * sizeof *cls);
    int rc = 0;
    if (!order || !seq_off || !ids || !types || !logits || !cls) {
        snprintf(err, errlen, "out of memory");
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < d->n; i++) {
        order[i].len = d->off[i + 1] - d->off[i];
        order[i].idx = i;
    }
    qsort(order, d->n, sizeof *order, cmp_len);
    size_t done = 0;
    for (size_t i = 0; i < d->n && rc == 0;) {
        int32_t ns = 0, nt = 0;
        seq_off[0] = 0;
        while (i + (size_t)ns < d->n && ns < max_seqs) {
            const by_len *e = &order[i + (size_t)ns];
            if (nt + e->len > max_tokens)
                break;
            memcpy(ids + nt, d->ids + d->off[e->idx], (size_t)e->len * sizeof *ids);
            if (d->types)
                memcpy(types + nt, d->types + d->off[e->idx], (size_t)e->len * sizeof *types);
            nt += e->len;
            seq_off[++ns] = nt;
        }
        ifs_batch b = {.n_seqs = ns,
                       .n_tokens = nt,
                       .input_ids = ids,
                       .type_ids = d->types ? types : NULL,
                       .seq_off = seq_off};
        if (depth < 0 ? ifs_backend_forward(bk, &b, logits, cls)
                      : ifs_backend_encode(bk, &b, depth, cls)) {
            snprintf(err, errlen, "forward failed: %s", ifs_backend_error(bk));
            rc = -1;
            break;
        }
        for (int32_t s = 0; s < ns; s++) {
            size_t e = order[i + (size_t)s].idx;
            if (depth < 0)
                memcpy(X + e * (size_t)hidden, cls + (size_t)s * hidden,
                       (size_t)hidden * sizeof(float));
            else
                memcpy(X + (size_t)d->off[e] * hidden, cls + (size_t)seq_off[s] * hidden,
                       (size_t)(seq_off[s + 1] - seq_off[s]) * hidden * sizeof(float));
        }
        i += (size_t)ns;
        done += (size_t)ns;
        if (progress)
            progress(ctx, done, d->n);
    }
out:
    free(order);
    free(seq_off);
    free(ids);
    free(types);
    free(logits);
    free(cls);
    return rc;
}

/* ---- feature cache ---------------------------------------------------- */

#define FEAT_MAGIC "IFSFEAT1"
#define FEAT_HDR IFS_RSET_CACHE_HDR

static void ids_digest(const ifs_rset *d, char hex[65])
{
    ifs_sha256_ctx c;
    ifs_sha256_init(&c);
    ifs_sha256_update(&c, d->off, (d->n + 1) * sizeof *d->off);
    ifs_sha256_update(&c, d->ids, (size_t)d->off[d->n] * sizeof *d->ids);
    if (d->types) { /* pairs: their token types too, after a marker */
        ifs_sha256_update(&c, "pair", 4);
        ifs_sha256_update(&c, d->types, (size_t)d->off[d->n] * sizeof *d->types);
    }
    ifs_sha256_final_hex(&c, hex);
}

void ifs_rset_cache_header(const ifs_rset *d, int depth, uint32_t hidden, const char *enc_fp,
                           unsigned char h[IFS_RSET_CACHE_HDR])
{
    char magic[9], ids_fp[65];
    uint64_t n = d->n;
    ids_digest(d, ids_fp);
    if (depth < 0)
        memcpy(magic, FEAT_MAGIC, 9);
    else
        snprintf(magic, sizeof magic, "IFSHID%02d", depth % 100); /* every row, `depth` layers */
    memcpy(h, magic, 8);
    memcpy(h + 8, &n, 8);
    memcpy(h + 16, &hidden, 4);
    memcpy(h + 20, enc_fp, 64);
    memcpy(h + 84, ids_fp, 64);
}

int ifs_rset_cache_load(const char *path, const unsigned char *want, float *X, size_t nfloats)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return 0;
    unsigned char h[FEAT_HDR];
    int ok = fread(h, 1, FEAT_HDR, f) == FEAT_HDR && !memcmp(h, want, FEAT_HDR) &&
             fread(X, sizeof(float), nfloats, f) == nfloats && fgetc(f) == EOF;
    fclose(f);
    return ok;
}

int ifs_rset_cache_save(const char *path, const unsigned char *hdr, const float *X, size_t nfloats,
                        char *err, size_t errlen)
{
    ifs_atomic *a;
    if (ifs_atomic_open(path, &a, err, errlen))
        return -1;
    int rc = ifs_atomic_write(a, hdr, FEAT_HDR) || ifs_atomic_write(a, X, nfloats * sizeof *X);
    if (rc)
        snprintf(err, errlen, "cannot write %s", path);
    if (!rc)
        rc = ifs_atomic_commit(a, err, errlen);
    ifs_atomic_free(a);
    return rc;
}
