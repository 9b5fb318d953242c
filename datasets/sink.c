/*
 * sink.c - shard sets: rolling .jsonl.zst shards with a manifest, and the
 * check of a shard set against its manifest (`ifscore verify`).
 *
 * A shard set is a folder of shards plus manifest.json listing, for each
 * shard, its record count, its size in bytes and its SHA-256. Shards and the
 * manifest are written atomically by host's shard writer / atomic file, the
 * manifest last: a folder with a manifest is complete. The byte limit counts
 * uncompressed record bytes, because the compressed size is only known once
 * a frame is flushed; shards are single zstd frames with checksums.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ds_internal.h"
#include "ifs_io.h"
#include "ifs_sha256.h"
#include "ifs_shard.h"

typedef struct {
    char *file;
    uint64_t records, bytes, ubytes;
    char sha[65];
} shard_info;

struct ds_sink {
    char *dir;
    ds_sink_opts o;
    char stem[256];
    unsigned seq;                 /* shard number within the stem */
    ifs_shard_writer *w;
    char cur[512];                /* the open shard's file name */
    uint64_t cur_records, cur_bytes;
    shard_info *shards;
    size_t n, cap;
    uint64_t records;
};

ds_sink *ds_sink_open(const char *dir, const ds_sink_opts *o, char *err, size_t errlen)
{
    if (o && o->dry_run) {
        ds_sink *s = calloc(1, sizeof *s);
        if (!s || !(s->dir = strdup(dir ? dir : "."))) {
            free(s);
            snprintf(err, errlen, "out of memory");
            return NULL;
        }
        s->o = *o;
        return s;
    }
    if (mkdir(dir, 0777) && errno != EEXIST) {
        snprintf(err, errlen, "%s: cannot create folder: %s", dir, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
        snprintf(err, errlen, "%s: not a folder", dir);
        return NULL;
    }
    ds_sink *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(dir))) {
        free(s);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (o)
        s->o = *o;
    snprintf(s->stem, sizeof s->stem, "part");
    return s;
}

int ds_sink_end(ds_sink *s, char *err, size_t errlen)
{
    if (!s->w)
        return 0;
    ifs_shard_writer_stats ws;
    char e2[256];
    int rc = ifs_shard_writer_close(s->w, &ws, e2, sizeof e2);
    ifs_shard_writer_free(s->w);
    s->w = NULL;
    if (rc) {
        snprintf(err, errlen, "%s", e2);
        return IFS_DS_EIO;
    }
    if (s->n == s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 16;
        shard_info *ns = realloc(s->shards, nc * sizeof *ns);
        if (!ns) {
            snprintf(err, errlen, "out of memory");
            return IFS_DS_ENOMEM;
        }
        s->shards = ns;
        s->cap = nc;
    }
    shard_info *si = &s->shards[s->n];
    memset(si, 0, sizeof *si);
    si->file = strdup(s->cur);
    si->records = ws.lines;
    si->bytes = ws.bytes_out;
    si->ubytes = ws.bytes_in;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", s->dir, s->cur);
    if (!si->file || ifs_sha256_file_hex(path, si->sha)) {
        free(si->file);
        snprintf(err, errlen, "%s: cannot read back for its SHA-256", path);
        return IFS_DS_EIO;
    }
    s->n++;
    return 0;
}

int ds_sink_begin(ds_sink *s, const char *stem, char *err, size_t errlen)
{
    int rc = ds_sink_end(s, err, errlen);
    if (rc)
        return rc;
    snprintf(s->stem, sizeof s->stem, "%s", stem && *stem ? stem : "part");
    s->seq = 0;
    return 0;
}

static int open_next(ds_sink *s, char *err, size_t errlen)
{
    snprintf(s->cur, sizeof s->cur, "%s-%05u.%s", s->stem, s->seq++,
             s->o.plain ? "jsonl" : "jsonl.zst");
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", s->dir, s->cur);
    ifs_shard_writer_opts wo;
    ifs_shard_writer_opts_init(&wo);
    if (s->o.level)
        wo.level = s->o.level;
    if (ifs_shard_writer_open(path, &wo, &s->w, err, errlen))
        return IFS_DS_EIO;
    s->cur_records = s->cur_bytes = 0;
    return 0;
}

int ds_sink_line(ds_sink *s, const char *line, size_t len, char *err, size_t errlen)
{
    if (s->o.dry_run) {
        if (memchr(line, '\n', len)) {
            snprintf(err, errlen, "a newline inside a record");
            return IFS_DS_EIO;
        }
        s->records++;
        return 0;
    }
    if (s->w && ((s->o.max_records && s->cur_records >= s->o.max_records) ||
                 (s->o.max_bytes && s->cur_bytes + len + 1 > s->o.max_bytes &&
                  s->cur_records > 0))) {
        int rc = ds_sink_end(s, err, errlen);
        if (rc)
            return rc;
    }
    if (!s->w) {
        int rc = open_next(s, err, errlen);
        if (rc)
            return rc;
    }
    if (ifs_shard_writer_line(s->w, line, len)) {
        snprintf(err, errlen, "%s/%s: write failed (a newline inside a record?)", s->dir, s->cur);
        return IFS_DS_EIO;
    }
    s->cur_records++;
    s->cur_bytes += len + 1;
    s->records++;
    return 0;
}

int ds_sink_finish(ds_sink *s, const char *extra, char *err, size_t errlen)
{
    int rc = ds_sink_end(s, err, errlen);
    if (rc || s->o.dry_run)
        return rc;
    ds_buf b = { 0 };
    uint64_t bytes = 0;
    for (size_t i = 0; i < s->n; i++)
        bytes += s->shards[i].bytes;
    ds_buf_printf(&b, "{\"format\":\"ifscore-shards/1\",\"records\":%llu,\"bytes\":%llu,"
                      "\"shards\":[",
                  (unsigned long long)s->records, (unsigned long long)bytes);
    for (size_t i = 0; i < s->n; i++) {
        const shard_info *si = &s->shards[i];
        ds_buf_puts(&b, i ? ",\n  {" : "\n  {");
        ds_buf_kv_str(&b, "file", si->file, strlen(si->file));
        ds_buf_kv_int(&b, "records", (long long)si->records);
        ds_buf_kv_int(&b, "bytes", (long long)si->bytes);
        ds_buf_kv_int(&b, "uncompressed_bytes", (long long)si->ubytes);
        ds_buf_kv_str(&b, "sha256", si->sha, 64);
        ds_buf_puts(&b, "}");
    }
    ds_buf_puts(&b, "]");
    if (extra && *extra) {
        ds_buf_puts(&b, ",\n");
        ds_buf_puts(&b, extra);
    }
    ds_buf_puts(&b, "}\n");
    if (b.oom) {
        ds_buf_free(&b);
        snprintf(err, errlen, "out of memory");
        return IFS_DS_ENOMEM;
    }
    char path[1024];
    snprintf(path, sizeof path, "%s/manifest.json", s->dir);
    rc = ifs_io_atomic_write(path, b.p, b.n, err, errlen) ? IFS_DS_EIO : 0;
    ds_buf_free(&b);
    return rc;
}

uint64_t ds_sink_records(const ds_sink *s)
{
    return s ? s->records : 0;
}

size_t ds_sink_shards(const ds_sink *s)
{
    return s ? s->n : 0;
}

void ds_sink_free(ds_sink *s)
{
    if (!s)
        return;
    ifs_shard_writer_free(s->w);
    for (size_t i = 0; i < s->n; i++)
        free(s->shards[i].file);
    free(s->shards);
    free(s->dir);
    free(s);
}

/* ---- verify --------------------------------------------------------------- */

static char *read_small_file(const char *path, size_t max, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *p = malloc(max + 1);
    size_t n = p ? fread(p, 1, max + 1, f) : 0;
    int bad = !p || ferror(f) || n > max;
    fclose(f);
    if (bad) {
        free(p);
        return NULL;
    }
    p[n] = 0;
    *len = n;
    return p;
}

static void say(void (*report)(const char *, void *), void *user, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(void (*report)(const char *, void *), void *user, const char *fmt, ...)
{
    if (!report)
        return;
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    report(line, user);
}

/* Counts lines and checks the stream through host's reader. */
static int count_lines(const char *path, uint64_t *lines, char *why, size_t whylen)
{
    ifs_shard_opts so = { .max_line_bytes = (size_t)1 << 30 };
    ifs_shard_reader *r;
    if (ifs_shard_open(path, &so, &r, why, whylen))
        return -1;
    ifs_shard_line ln;
    uint64_t n = 0;
    int rc;
    while ((rc = ifs_shard_next(r, &ln)) == IFS_SHARD_LINE)
        if (ln.reason == IFS_REJECT_NONE || ln.reason == IFS_REJECT_LINE_TOO_LONG)
            n++;
    ifs_shard_stats st;
    ifs_shard_get_stats(r, &st);
    ifs_shard_free(r);
    *lines = n;
    if (rc < 0) {
        snprintf(why, whylen, "%s", ifs_shard_strerror(rc));
        return -1;
    }
    if (st.status != IFS_SHARD_OK) {
        snprintf(why, whylen, "%s", st.error);
        return -1;
    }
    return 0;
}

int ds_verify(const char *path, ds_verify_stats *vs, void (*report)(const char *, void *),
              void *user, char *err, size_t errlen)
{
    ds_verify_stats zero = { 0 };
    if (vs)
        *vs = zero;
    if (errlen)
        err[0] = 0;
    char mpath[1024], dir[1024];
    struct stat st;
    if (!stat(path, &st) && S_ISDIR(st.st_mode)) {
        snprintf(dir, sizeof dir, "%s", path);
        snprintf(mpath, sizeof mpath, "%s/manifest.json", path);
    } else {
        snprintf(mpath, sizeof mpath, "%s", path);
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = 0;
        else
            snprintf(dir, sizeof dir, ".");
    }
    size_t len;
    char *text = read_small_file(mpath, (size_t)256 << 20, &len);
    if (!text) {
        snprintf(err, errlen, "%s: cannot read the manifest", mpath);
        return IFS_DS_EIO;
    }
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    cJSON *shards = root ? cJSON_GetObjectItemCaseSensitive(root, "shards") : NULL;
    cJSON *total = root ? cJSON_GetObjectItemCaseSensitive(root, "records") : NULL;
    if (!cJSON_IsArray(shards) || !cJSON_IsNumber(total)) {
        snprintf(err, errlen, "%s: not an ifscore manifest (no \"shards\" array / \"records\")",
                 mpath);
        cJSON_Delete(root);
        return IFS_DS_EFORMAT;
    }
    size_t bad = 0, n = 0;
    uint64_t sum = 0;
    cJSON *it;
    cJSON_ArrayForEach(it, shards)
    {
        n++;
        cJSON *f = cJSON_GetObjectItemCaseSensitive(it, "file");
        cJSON *rec = cJSON_GetObjectItemCaseSensitive(it, "records");
        cJSON *by = cJSON_GetObjectItemCaseSensitive(it, "bytes");
        cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "sha256");
        if (!cJSON_IsString(f) || !cJSON_IsNumber(rec) || !cJSON_IsNumber(by) ||
            !cJSON_IsString(sh) || strchr(f->valuestring, '/')) {
            say(report, user, "%s: shard entry %zu is malformed", mpath, n - 1);
            bad++;
            continue;
        }
        char sp[2048];
        snprintf(sp, sizeof sp, "%s/%s", dir, f->valuestring);
        if (stat(sp, &st)) {
            say(report, user, "%s: missing (%s)", sp, strerror(errno));
            bad++;
            continue;
        }
        int ok = 1;
        if ((uint64_t)st.st_size != (uint64_t)by->valuedouble) {
            say(report, user, "%s: %llu bytes, manifest says %.0f", sp,
                (unsigned long long)st.st_size, by->valuedouble);
            ok = 0;
        }
        char hex[65];
        if (ifs_sha256_file_hex(sp, hex)) {
            say(report, user, "%s: unreadable", sp);
            ok = 0;
        } else if (strcmp(hex, sh->valuestring)) {
            say(report, user, "%s: sha256 %s, manifest says %s", sp, hex, sh->valuestring);
            ok = 0;
        }
        uint64_t lines = 0;
        char why[256];
        if (count_lines(sp, &lines, why, sizeof why)) {
            say(report, user, "%s: %s", sp, why);
            ok = 0;
        } else if (lines != (uint64_t)rec->valuedouble) {
            say(report, user, "%s: %llu records, manifest says %.0f", sp,
                (unsigned long long)lines, rec->valuedouble);
            ok = 0;
        }
        sum += lines;
        bad += !ok;
    }
    if (sum != (uint64_t)total->valuedouble && !bad) {
        say(report, user, "%s: shards hold %llu records, manifest total says %.0f", mpath,
            (unsigned long long)sum, total->valuedouble);
        bad++;
    }
    cJSON_Delete(root);
    if (vs) {
        vs->shards = n;
        vs->bad_shards = bad;
        vs->records = sum;
    }
    return bad ? IFS_DS_EFORMAT : 0;
}
