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
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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
    ifs_ds_sink_opts o;
    char stem[256];
    unsigned seq; /* shard number within the stem */
    ifs_shard_writer *w;
    char cur[512]; /* the open shard's file name */
    uint64_t cur_records, cur_bytes;
    shard_info *shards;
    size_t n, cap;
    uint64_t records;
};

ds_sink *ds_sink_open(const char *dir, const ifs_ds_sink_opts *o, char *err, size_t errlen)
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
    if (s->w &&
        ((s->o.max_records && s->cur_records >= s->o.max_records) ||
         (s->o.max_bytes && s->cur_bytes + len + 1 > s->o.max_bytes && s->cur_records > 0))) {
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
    ds_buf b = {0};
    uint64_t bytes = 0;
    for (size_t i = 0; i < s->n; i++)
        bytes += s->shards[i].bytes;
    ds_buf_printf(&b,
                  "{\"format\":\"ifscore-shards/1\",\"records\":%llu,\"bytes\":%llu,"
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
    rc = ifs_io_atomic_write(path, b.p, b.len, err, errlen) ? IFS_DS_EIO : 0;
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

/* ---- verify ----------------------------------------------------------------
 * Nothing read here may block or run for ever: the manifest and every shard
 * are opened O_NONBLOCK and refused unless fstat says they are regular files
 * (a FIFO would block in open or read, /dev/zero would never end), the
 * manifest is read with a size cap, and each shard is read once through its
 * descriptor, feeding both its SHA-256 and the shard decoder (so the checks
 * see the same bytes, whatever happens to the path meanwhile). */

#define MANIFEST_MAX ((size_t)64 << 20)

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

static const char *kind_of(mode_t m)
{
    return S_ISDIR(m)    ? "a folder"
           : S_ISFIFO(m) ? "a FIFO"
           : S_ISCHR(m)  ? "a character device"
           : S_ISBLK(m)  ? "a block device"
           : S_ISSOCK(m) ? "a socket"
                         : "not a plain file";
}

/* Opens path for reading without blocking; -1 with words in why unless it
 * is a regular file. *st is its fstat. */
static int open_regular(const char *path, struct stat *st, char *why, size_t whylen)
{
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return -1;
    }
    if (fstat(fd, st)) {
        snprintf(why, whylen, "%s", strerror(errno));
        close(fd);
        return -1;
    }
    if (!S_ISREG(st->st_mode)) {
        snprintf(why, whylen, "not a regular file (%s)", kind_of(st->st_mode));
        close(fd);
        return -1;
    }
    return fd;
}

static char *read_manifest(const char *path, size_t *len, char *err, size_t errlen)
{
    struct stat st;
    char why[256];
    int fd = open_regular(path, &st, why, sizeof why);
    if (fd < 0) {
        snprintf(err, errlen, "%s: cannot read the manifest: %s", path, why);
        return NULL;
    }
    if ((uint64_t)st.st_size > MANIFEST_MAX) {
        snprintf(err, errlen,
                 "%s: cannot read the manifest: %llu bytes, larger than the %zu MiB "
                 "a manifest may hold",
                 path, (unsigned long long)st.st_size, MANIFEST_MAX >> 20);
        close(fd);
        return NULL;
    }
    /* The size may still change under us: the buffer grows, but never past
     * the cap plus one byte (which marks "too large"). */
    size_t cap = (size_t)st.st_size + 1;
    char *p = malloc(cap + 1);
    size_t n = 0;
    int bad = !p;
    while (p && n <= MANIFEST_MAX) {
        if (n == cap) {
            size_t nc = cap * 2 > MANIFEST_MAX + 1 ? MANIFEST_MAX + 1 : cap * 2;
            char *np = nc > cap ? realloc(p, nc + 1) : NULL;
            if (!np) {
                bad = 1;
                break;
            }
            p = np;
            cap = nc;
        }
        ssize_t k = read(fd, p + n, cap - n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            bad = 1;
            break;
        }
        if (k == 0)
            break;
        n += (size_t)k;
    }
    close(fd);
    if (bad || n > MANIFEST_MAX) {
        snprintf(err, errlen, "%s: cannot read the manifest: %s", path,
                 !p                 ? "out of memory"
                 : n > MANIFEST_MAX ? "it grew past the size cap"
                                    : strerror(errno));
        free(p);
        return NULL;
    }
    p[n] = 0;
    *len = n;
    return p;
}

/* A JSON number that is an integer in [0, 2^53] (exact in a double). */
static int get_count(const cJSON *obj, const char *key, uint64_t *out)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsNumber(v))
        return 0;
    double d = v->valuedouble;
    if (!(d >= 0 && d <= 9007199254740992.0) || d != (double)(uint64_t)d)
        return 0;
    *out = (uint64_t)d;
    return 1;
}

static int is_sha_hex(const cJSON *v)
{
    if (!cJSON_IsString(v) || !v->valuestring || strlen(v->valuestring) != 64)
        return 0;
    for (const char *c = v->valuestring; *c; c++)
        if (!((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'f')))
            return 0;
    return 1;
}

/* A name the folder can hold: not empty, no '/', not "." or "..", no
 * control characters (they would garble the problem lines). */
static int is_plain_name(const cJSON *v)
{
    if (!cJSON_IsString(v) || !v->valuestring)
        return 0;
    const char *s = v->valuestring;
    if (!*s || !strcmp(s, ".") || !strcmp(s, "..") || strchr(s, '/'))
        return 0;
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    return 1;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* What `ifscore score DIR` reads from a folder (host's input lister). */
static int is_shard_name(const char *s)
{
    return s[0] != '.' && (ends_with(s, ".jsonl") || ends_with(s, ".jsonl.zst"));
}

typedef struct {
    uint64_t lines, bytes_out, file_bytes;
    char sha[65];
} shard_read;

/* Reads the shard at fd to its end: SHA-256 of the file bytes, records
 * (lines, read as `score` reads them: a line over the cap is still one
 * record) and decompressed size. 0, or -1 with words in why. */
static int read_shard(int fd, shard_read *out, char *why, size_t whylen)
{
    ifs_shard_opts so = {.max_line_bytes = (size_t)64 << 20};
    ifs_shard_reader *r = ifs_shard_create(&so);
    size_t cap = (size_t)1 << 20;
    char *buf = malloc(cap);
    if (!r || !buf) {
        snprintf(why, whylen, "out of memory");
        ifs_shard_free(r);
        free(buf);
        return -1;
    }
    ifs_sha256_ctx sc;
    ifs_sha256_init(&sc);
    memset(out, 0, sizeof *out);
    int rc = 0, done = 0;
    while (!done) {
        ssize_t k = read(fd, buf, cap);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0) {
            snprintf(why, whylen, "read error at byte %llu: %s",
                     (unsigned long long)out->file_bytes, strerror(errno));
            rc = -1;
            break;
        }
        ifs_sha256_update(&sc, buf, (size_t)k);
        out->file_bytes += (uint64_t)k;
        ifs_shard_input in = {buf, (size_t)k, 0, k == 0};
        ifs_shard_line ln;
        int d;
        while ((d = ifs_shard_decode(r, &in, &ln)) == IFS_SHARD_LINE)
            if (ln.reason == IFS_REJECT_NONE || ln.reason == IFS_REJECT_LINE_TOO_LONG)
                out->lines++;
        if (d < 0) {
            snprintf(why, whylen, "%s", ifs_shard_strerror(d));
            rc = -1;
            break;
        }
        done = d == IFS_SHARD_END || k == 0;
    }
    if (!rc) {
        ifs_shard_stats st;
        ifs_shard_get_stats(r, &st);
        out->bytes_out = st.bytes_out;
        if (st.status != IFS_SHARD_OK) {
            snprintf(why, whylen, "%s", st.error);
            rc = -1;
        }
        ifs_sha256_final_hex(&sc, out->sha);
    }
    ifs_shard_free(r);
    free(buf);
    return rc;
}

/* Names already listed (the manifest's, to catch repeats, and to compare
 * with the folder): a sorted array of borrowed strings. */
static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int ifs_ds_verify(const char *path, ifs_ds_verify_stats *vs, void (*report)(const char *, void *),
                  void *user, char *err, size_t errlen)
{
    ifs_ds_verify_stats zero = {0};
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
    char *text = read_manifest(mpath, &len, err, errlen);
    if (!text)
        return IFS_DS_EIO;
    cJSON *root = cJSON_ParseWithLength(text, len);
    free(text);
    cJSON *shards = cJSON_IsObject(root) ? cJSON_GetObjectItemCaseSensitive(root, "shards") : NULL;
    if (!cJSON_IsArray(shards)) {
        snprintf(err, errlen, "%s: not an ifscore manifest (%s)", mpath,
                 !root                   ? "not JSON"
                 : !cJSON_IsObject(root) ? "not a JSON object"
                                         : "no \"shards\" array");
        cJSON_Delete(root);
        return IFS_DS_EFORMAT;
    }
    size_t problems = 0, bad = 0, n = 0;
    const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(root, "format");
    if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "ifscore-shards/1")) {
        say(report, user, "%s: \"format\" is not \"ifscore-shards/1\"", mpath);
        problems++;
    }
    uint64_t total = 0, total_bytes = 0;
    int have_total = get_count(root, "records", &total);
    int have_bytes = get_count(root, "bytes", &total_bytes);
    if (!have_total) {
        say(report, user, "%s: \"records\" is not a non-negative integer", mpath);
        problems++;
    }
    if (!have_bytes) {
        say(report, user, "%s: \"bytes\" is not a non-negative integer", mpath);
        problems++;
    }
    size_t n_entries = (size_t)cJSON_GetArraySize(shards);
    const char **names = calloc(n_entries + 1, sizeof *names);
    if (!names) {
        snprintf(err, errlen, "out of memory");
        cJSON_Delete(root);
        return IFS_DS_ENOMEM;
    }
    size_t n_names = 0;
    uint64_t sum = 0, sum_bytes = 0;
    int sums_known = 1;
    cJSON *it;
    cJSON_ArrayForEach(it, shards)
    {
        size_t idx = n++;
        if (!cJSON_IsObject(it)) {
            say(report, user, "%s: shard entry %zu is not an object", mpath, idx);
            bad++;
            sums_known = 0;
            continue;
        }
        const cJSON *f = cJSON_GetObjectItemCaseSensitive(it, "file");
        const cJSON *sh = cJSON_GetObjectItemCaseSensitive(it, "sha256");
        uint64_t want_rec = 0, want_bytes = 0, want_ubytes = 0;
        int entry_ok = 1;
        if (!is_plain_name(f)) {
            say(report, user, "%s: shard entry %zu: \"file\" is not a plain file name", mpath, idx);
            entry_ok = 0;
        }
        static const char *const count_keys[] = {"records", "bytes", "uncompressed_bytes"};
        uint64_t *count_out[] = {&want_rec, &want_bytes, &want_ubytes};
        for (int k = 0; k < 3; k++)
            if (!get_count(it, count_keys[k], count_out[k])) {
                say(report, user, "%s: shard entry %zu: \"%s\" is not a non-negative integer",
                    mpath, idx, count_keys[k]);
                entry_ok = 0;
            }
        if (!is_sha_hex(sh)) {
            say(report, user, "%s: shard entry %zu: \"sha256\" is not 64 lowercase hex digits",
                mpath, idx);
            entry_ok = 0;
        }
        if (!entry_ok) {
            bad++;
            sums_known = 0;
            continue;
        }
        const char *name = f->valuestring;
        int repeat = 0;
        for (size_t j = 0; j < n_names && !repeat; j++)
            repeat = !strcmp(names[j], name);
        if (repeat) {
            say(report, user, "%s: shard %s is listed twice", mpath, name);
            bad++;
            sums_known = 0;
            continue;
        }
        names[n_names++] = name;
        sum_bytes += want_bytes;
        char sp[2048];
        snprintf(sp, sizeof sp, "%s/%s", dir, name);
        int ok = 1;
        if (!is_shard_name(name)) {
            say(report, user,
                "%s: not a shard name (*.jsonl, *.jsonl.zst): ifscore score %s "
                "would not read it",
                sp, dir);
            ok = 0;
        }
        char why[256];
        int fd = open_regular(sp, &st, why, sizeof why);
        if (fd < 0) {
            say(report, user, "%s: %s", sp, why);
            bad++;
            sums_known = 0;
            continue;
        }
        if ((uint64_t)st.st_size != want_bytes) {
            say(report, user, "%s: %llu bytes, manifest says %llu", sp,
                (unsigned long long)st.st_size, (unsigned long long)want_bytes);
            ok = 0;
        }
        shard_read rd;
        int rrc = read_shard(fd, &rd, why, sizeof why);
        close(fd);
        if (rrc) {
            say(report, user, "%s: %s", sp, why);
            ok = 0;
        } else {
            if (strcmp(rd.sha, sh->valuestring)) {
                say(report, user, "%s: sha256 %s, manifest says %s", sp, rd.sha, sh->valuestring);
                ok = 0;
            }
            if (rd.lines != want_rec) {
                say(report, user, "%s: %llu records, manifest says %llu", sp,
                    (unsigned long long)rd.lines, (unsigned long long)want_rec);
                ok = 0;
            }
            if (rd.bytes_out != want_ubytes) {
                say(report, user, "%s: %llu uncompressed bytes, manifest says %llu", sp,
                    (unsigned long long)rd.bytes_out, (unsigned long long)want_ubytes);
                ok = 0;
            }
        }
        sum += rd.lines;
        bad += !ok;
    }
    /* Totals are only compared when every entry could be counted: a broken
     * entry was reported already and would make the totals say nothing. */
    if (sums_known && !bad && have_total && sum != total) {
        say(report, user, "%s: shards hold %llu records, manifest total says %llu", mpath,
            (unsigned long long)sum, (unsigned long long)total);
        problems++;
    }
    if (sums_known && have_bytes && sum_bytes != total_bytes) {
        say(report, user, "%s: shards listed with %llu bytes, manifest total says %llu", mpath,
            (unsigned long long)sum_bytes, (unsigned long long)total_bytes);
        problems++;
    }
    /* Every shard `score DIR` would read must be one the manifest lists: the
     * folder is listed by host's lister (ifs_io_list_inputs), the one `score`
     * uses, so the two can never disagree on what a shard is. */
    size_t unlisted = 0;
    ifs_input_list in = {0};
    char lerr[256];
    const char *dargs[1] = {dir};
    if (ifs_io_list_inputs(dargs, 1, &in, lerr, sizeof lerr)) {
        /* An unreadable folder is a problem; one with no shards has nothing
         * unlisted (the manifest's own entries were checked above). */
        DIR *d = opendir(dir);
        if (!d) {
            say(report, user, "%s: cannot list the folder: %s", dir, strerror(errno));
            problems++;
        } else {
            closedir(d);
        }
    } else {
        qsort(names, n_names, sizeof *names, cmp_name);
        for (size_t i = 0; i < in.n; i++) {
            const char *slash = strrchr(in.files[i].path, '/');
            const char *key = slash ? slash + 1 : in.files[i].path;
            if (!bsearch(&key, names, n_names, sizeof *names, cmp_name)) {
                char sp[2048];
                snprintf(sp, sizeof sp, "%s/%s", dir, key);
                say(report, user,
                    "%s: not listed in the manifest, but ifscore score %s would "
                    "read it",
                    sp, dir);
                unlisted++;
            }
        }
    }
    ifs_input_list_free(&in);
    free(names);
    cJSON_Delete(root);
    if (vs) {
        vs->shards = n;
        vs->bad_shards = bad;
        vs->unlisted = unlisted;
        vs->problems = bad + unlisted + problems;
        vs->records = sum;
    }
    return bad + unlisted + problems ? IFS_DS_EFORMAT : 0;
}
