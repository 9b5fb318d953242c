/*
 * io.c - atomic file output and input listing (see ifs_io.h).
 *
 * Decisions:
 *   - The temporary file lives beside the target so rename(2) stays within
 *     one file system (and so is atomic). Its name carries the pid and a
 *     process-wide counter, and it is created with O_EXCL, so two writers
 *     (threads or Slurm tasks sharing a folder) never share a temporary.
 *   - Mode 0666 minus umask, as a plain fopen would give: mkstemp's 0600
 *     would surprise whoever reads the report next.
 *   - The directory is fsynced after the rename; without it the rename itself
 *     may be lost on a crash even though the data is on disk.
 *   - Input listing sorts bytewise (strcmp), never by locale, so every Slurm
 *     task computes the same list.
 */
#include "ifs_io.h"
#include "ifs_buf.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ifs_atomic {
    FILE *f;
    char *path; /* target */
    char *tmp;  /* temporary; NULL for "-" */
    int is_stdout;
    int committed;
    int write_errno; /* first failed write's errno, 0 if none */
    uint64_t bytes;
};

static unsigned long next_tmp_counter(void)
{
    static unsigned long counter;
    return __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
}

int ifs_atomic_open(const char *path, ifs_atomic **out, char *err, size_t errlen)
{
    if (!path || !*path || !out) {
        ifs_errf(err, errlen, 0, "atomic output: empty path");
        return IFS_IO_EARG;
    }
    *out = NULL;
    ifs_atomic *a = calloc(1, sizeof *a);
    if (!a) {
        ifs_errf(err, errlen, 0, "atomic output %s: out of memory", path);
        return IFS_IO_ENOMEM;
    }
    if (!strcmp(path, "-")) {
        a->is_stdout = 1;
        a->f = stdout;
        a->path = strdup("-");
        if (!a->path) {
            free(a);
            ifs_errf(err, errlen, 0, "atomic output: out of memory");
            return IFS_IO_ENOMEM;
        }
        *out = a;
        return 0;
    }
    size_t n = strlen(path) + 64;
    a->path = strdup(path);
    a->tmp = malloc(n);
    if (!a->path || !a->tmp) {
        ifs_atomic_free(a);
        ifs_errf(err, errlen, 0, "atomic output %s: out of memory", path);
        return IFS_IO_ENOMEM;
    }
    int fd = -1;
    for (int tries = 0; tries < 100 && fd < 0; tries++) {
        snprintf(a->tmp, n, "%s.tmp-%ld-%lu", path, (long)getpid(), next_tmp_counter());
        fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd < 0 && errno != EEXIST)
            break;
    }
    if (fd < 0) {
        ifs_errf(err, errlen, 0, "cannot create %s: %s", a->tmp, strerror(errno));
        free(a->tmp);
        a->tmp = NULL;
        ifs_atomic_free(a);
        return IFS_IO_EIO;
    }
    a->f = fdopen(fd, "wb");
    if (!a->f) {
        int e = errno;
        close(fd);
        unlink(a->tmp);
        ifs_errf(err, errlen, 0, "cannot open %s: %s", a->tmp, strerror(e));
        free(a->tmp);
        a->tmp = NULL;
        ifs_atomic_free(a);
        return IFS_IO_EIO;
    }
    *out = a;
    return 0;
}

int ifs_atomic_write(ifs_atomic *a, const void *data, size_t len)
{
    if (!a || !a->f || a->committed)
        return IFS_IO_EARG;
    if (len == 0)
        return 0;
    if (fwrite(data, 1, len, a->f) != len) {
        if (!a->write_errno)
            a->write_errno = errno ? errno : EIO;
        return IFS_IO_EIO;
    }
    a->bytes += len;
    return 0;
}

FILE *ifs_atomic_file(ifs_atomic *a)
{
    return a ? a->f : NULL;
}

uint64_t ifs_atomic_bytes(const ifs_atomic *a)
{
    return a ? a->bytes : 0;
}

int ifs_io_fsync_dir(const char *path, char *err, size_t errlen)
{
    char *dir = strdup(path);
    if (!dir) {
        ifs_errf(err, errlen, 0, "fsync dir of %s: out of memory", path);
        return IFS_IO_ENOMEM;
    }
    char *slash = strrchr(dir, '/');
    if (!slash)
        strcpy(dir, ".");
    else if (slash == dir)
        dir[1] = 0;
    else
        *slash = 0;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        ifs_errf(err, errlen, 0, "cannot open directory %s: %s", dir, strerror(errno));
        free(dir);
        return IFS_IO_EIO;
    }
    int rc = 0;
    /* Some file systems refuse fsync on directories (EINVAL); the rename is
     * then as durable as that file system can make it. */
    if (fsync(fd) != 0 && errno != EINVAL && errno != EROFS) {
        ifs_errf(err, errlen, 0, "fsync of directory %s: %s", dir, strerror(errno));
        rc = -1;
    }
    close(fd);
    free(dir);
    return rc;
}

int ifs_atomic_commit(ifs_atomic *a, char *err, size_t errlen)
{
    if (!a || !a->f || a->committed) {
        ifs_errf(err, errlen, 0, "atomic output: commit on a closed handle");
        return IFS_IO_EARG;
    }
    if (a->is_stdout) {
        a->committed = 1;
        if (fflush(stdout) != 0 || ferror(stdout) || a->write_errno) {
            ifs_errf(err, errlen, 0, "writing to stdout: %s",
                     strerror(a->write_errno ? a->write_errno : errno));
            return IFS_IO_EIO;
        }
        return 0;
    }
    int e = a->write_errno;
    if (!e && fflush(a->f) != 0)
        e = errno;
    if (!e && ferror(a->f))
        e = EIO;
    if (!e) {
        long pos = ftell(a->f);
        if (pos > 0 && (uint64_t)pos > a->bytes)
            a->bytes = (uint64_t)pos; /* fprintf'd bytes */
    }
    if (!e && fsync(fileno(a->f)) != 0)
        e = errno;
    if (fclose(a->f) != 0 && !e)
        e = errno;
    a->f = NULL;
    if (e) {
        ifs_errf(err, errlen, 0, "writing %s: %s", a->tmp, strerror(e));
        unlink(a->tmp);
        return IFS_IO_EIO;
    }
    if (rename(a->tmp, a->path) != 0) {
        e = errno;
        ifs_errf(err, errlen, 0, "rename %s -> %s: %s", a->tmp, a->path, strerror(e));
        unlink(a->tmp);
        return IFS_IO_EIO;
    }
    a->committed = 1;
    return ifs_io_fsync_dir(a->path, err, errlen);
}

void ifs_atomic_free(ifs_atomic *a)
{
    if (!a)
        return;
    if (a->f && !a->is_stdout)
        fclose(a->f);
    if (a->tmp && !a->committed)
        unlink(a->tmp);
    free(a->tmp);
    free(a->path);
    free(a);
}

int ifs_io_atomic_write(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
    ifs_atomic *a;
    if (ifs_atomic_open(path, &a, err, errlen))
        return IFS_IO_EIO;
    (void)ifs_atomic_write(a, data, len); /* a failure is kept and reported by commit */
    int rc = ifs_atomic_commit(a, err, errlen);
    ifs_atomic_free(a);
    return rc;
}

/* ---------------------------------------------------------------------------
 * Input listing
 */

typedef struct {
    ifs_input_file *v;
    dev_t *dev;
    ino_t *ino;
    size_t n, cap;
} list_builder;

static int lb_push(list_builder *b, const char *path, const struct stat *st, int is_stdin)
{
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        ifs_input_file *v = realloc(b->v, cap * sizeof *v);
        if (!v)
            return -1;
        b->v = v;
        dev_t *d = realloc(b->dev, cap * sizeof *d);
        if (!d)
            return -1;
        b->dev = d;
        ino_t *i = realloc(b->ino, cap * sizeof *i);
        if (!i)
            return -1;
        b->ino = i;
        b->cap = cap;
    }
    ifs_input_file *f = &b->v[b->n];
    f->path = strdup(path);
    if (!f->path)
        return -1;
    f->is_stdin = is_stdin;
    f->is_regular = st && S_ISREG(st->st_mode);
    f->size = f->is_regular ? (uint64_t)st->st_size : 0;
    b->dev[b->n] = st ? st->st_dev : 0;
    b->ino[b->n] = st ? st->st_ino : 0;
    b->n++;
    return 0;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

static int shard_name(const char *name)
{
    return name[0] != '.' && (ends_with(name, ".jsonl") || ends_with(name, ".jsonl.zst"));
}

/* Adds the shards of one directory; 0, or -1 with err. */
static int add_dir(list_builder *b, const char *dir, char *err, size_t errlen)
{
    DIR *d = opendir(dir);
    if (!d) {
        ifs_errf(err, errlen, 0, "cannot open directory %s: %s", dir, strerror(errno));
        return -1;
    }
    size_t before = b->n;
    struct dirent *e;
    int rc = 0;
    size_t dlen = strlen(dir);
    while ((e = readdir(d)) != NULL) {
        if (!shard_name(e->d_name))
            continue;
        size_t n = dlen + strlen(e->d_name) + 2;
        char *p = malloc(n);
        if (!p) {
            ifs_errf(err, errlen, 0, "listing %s: out of memory", dir);
            rc = -1;
            break;
        }
        if (dlen && dir[dlen - 1] == '/')
            snprintf(p, n, "%s%s", dir, e->d_name);
        else
            snprintf(p, n, "%s/%s", dir, e->d_name);
        struct stat st;
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode)) {
            if (lb_push(b, p, &st, 0)) {
                ifs_errf(err, errlen, 0, "listing %s: out of memory", dir);
                rc = -1;
                free(p);
                break;
            }
        }
        free(p);
    }
    closedir(d);
    if (rc == 0 && b->n == before) {
        ifs_errf(err, errlen, 0, "directory %s holds no *.jsonl or *.jsonl.zst files", dir);
        rc = -1;
    }
    return rc;
}

static int add_path(list_builder *b, const char *path, const struct stat *st, char *err,
                    size_t errlen)
{
    if (S_ISDIR(st->st_mode))
        return add_dir(b, path, err, errlen);
    if (lb_push(b, path, st, 0)) {
        ifs_errf(err, errlen, 0, "listing %s: out of memory", path);
        return -1;
    }
    return 0;
}

/* qsort has no context argument in C11: a thread-local pointer carries it
 * (listing may then run in several threads at once). */
static _Thread_local const list_builder *sort_ctx;

static int cmp_identity(const void *x, const void *y)
{
    size_t i = *(const size_t *)x, j = *(const size_t *)y;
    const list_builder *b = sort_ctx;
    int ri = b->v[i].is_regular, rj = b->v[j].is_regular;
    if (ri != rj)
        return ri < rj ? -1 : 1;
    if (b->dev[i] != b->dev[j])
        return b->dev[i] < b->dev[j] ? -1 : 1;
    if (b->ino[i] != b->ino[j])
        return b->ino[i] < b->ino[j] ? -1 : 1;
    return i < j ? -1 : (i > j);
}

static int cmp_path(const void *x, const void *y)
{
    const ifs_input_file *a = x, *b = y;
    if (a->is_stdin != b->is_stdin)
        return a->is_stdin ? -1 : 1;
    return strcmp(a->path, b->path);
}

int ifs_io_list_inputs(const char *const *args, size_t nargs, ifs_input_list *out, char *err,
                       size_t errlen)
{
    if (!out)
        return IFS_IO_EARG;
    memset(out, 0, sizeof *out);
    if (!args || nargs == 0) {
        ifs_errf(err, errlen, 0, "no inputs given");
        return IFS_IO_EARG;
    }
    list_builder b = {0};
    int rc = 0, seen_stdin = 0;
    for (size_t i = 0; i < nargs && rc == 0; i++) {
        const char *arg = args[i];
        if (!arg || !*arg) {
            ifs_errf(err, errlen, 0, "empty input path");
            rc = IFS_IO_EARG;
            break;
        }
        if (!strcmp(arg, "-")) {
            if (seen_stdin++) {
                ifs_errf(err, errlen, 0, "\"-\" (stdin) given more than once");
                rc = IFS_IO_EARG;
            } else if (lb_push(&b, "-", NULL, 1)) {
                ifs_errf(err, errlen, 0, "listing inputs: out of memory");
                rc = IFS_IO_EARG;
            }
            continue;
        }
        struct stat st;
        if (stat(arg, &st) == 0) {
            rc = add_path(&b, arg, &st, err, errlen);
            continue;
        }
        if (!strpbrk(arg, "*?[")) {
            ifs_errf(err, errlen, 0, "input %s: %s", arg, strerror(errno));
            rc = IFS_IO_EARG;
            break;
        }
        glob_t g;
        int grc = glob(arg, 0, NULL, &g);
        if (grc == GLOB_NOMATCH || (grc == 0 && g.gl_pathc == 0)) {
            ifs_errf(err, errlen, 0, "input pattern %s matches nothing", arg);
            rc = IFS_IO_EARG;
        } else if (grc != 0) {
            ifs_errf(err, errlen, 0, "input pattern %s: glob failed (%s)", arg,
                     grc == GLOB_NOSPACE ? "out of memory" : "read error");
            rc = IFS_IO_EARG;
        } else {
            for (size_t k = 0; k < g.gl_pathc && rc == 0; k++) {
                if (stat(g.gl_pathv[k], &st) != 0) {
                    ifs_errf(err, errlen, 0, "input %s: %s", g.gl_pathv[k], strerror(errno));
                    rc = IFS_IO_EARG;
                } else {
                    rc = add_path(&b, g.gl_pathv[k], &st, err, errlen);
                }
            }
        }
        if (grc == 0 || grc == GLOB_NOMATCH)
            globfree(&g);
    }
    if (rc == 0) {
        /* Drop second mentions of the same file (same device and inode),
         * keeping the first spelling; FIFOs and stdin are never merged.
         * Sorting indices by identity keeps this O(n log n) for huge lists. */
        size_t *idx = malloc((b.n ? b.n : 1) * sizeof *idx);
        unsigned char *drop = calloc(b.n ? b.n : 1, 1);
        if (!idx || !drop) {
            ifs_errf(err, errlen, 0, "listing inputs: out of memory");
            rc = IFS_IO_EARG;
        } else {
            for (size_t i = 0; i < b.n; i++)
                idx[i] = i;
            sort_ctx = &b;
            qsort(idx, b.n, sizeof *idx, cmp_identity);
            sort_ctx = NULL;
            for (size_t k = 1; k < b.n; k++) {
                size_t i = idx[k], j = idx[k - 1];
                if (b.v[i].is_regular && b.v[j].is_regular && b.dev[i] == b.dev[j] &&
                    b.ino[i] == b.ino[j])
                    drop[i] = 1; /* j < i: the first spelling stays */
            }
            size_t w = 0;
            for (size_t i = 0; i < b.n; i++) {
                if (drop[i]) {
                    free(b.v[i].path);
                    continue;
                }
                b.v[w++] = b.v[i];
            }
            b.n = w;
        }
        free(idx);
        free(drop);
    }
    if (rc == 0) {
        qsort(b.v, b.n, sizeof *b.v, cmp_path);
        out->files = b.v;
        out->n = b.n;
        for (size_t i = 0; i < b.n; i++)
            out->total_bytes += b.v[i].size;
        b.v = NULL;
    } else {
        for (size_t i = 0; i < b.n; i++)
            free(b.v[i].path);
        free(b.v);
    }
    free(b.dev);
    free(b.ino);
    return rc < 0 ? IFS_IO_EARG : rc;
}

void ifs_input_list_free(ifs_input_list *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->n; i++)
        free(l->files[i].path);
    free(l->files);
    memset(l, 0, sizeof *l);
}

int ifs_io_read_file(const char *path, uint64_t max_bytes, char **out, size_t *len, char *err,
                     size_t errlen)
{
    if (out)
        *out = NULL;
    if (!path || !out)
        return ifs_errf(err, errlen, IFS_IO_EARG, "read: no path");
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return ifs_errf(err, errlen, IFS_IO_EIO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return ifs_errf(err, errlen, IFS_IO_EIO, "%s: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ifs_errf(err, errlen, IFS_IO_EIO, "%s: %s", path,
                        S_ISDIR(st.st_mode) ? "is a directory" : "not a regular file");
    }
    if ((uint64_t)st.st_size > max_bytes) {
        close(fd);
        return ifs_errf(err, errlen, IFS_IO_EIO, "%s: %llu bytes, more than the %llu allowed", path,
                        (unsigned long long)st.st_size, (unsigned long long)max_bytes);
    }
    size_t cap = (size_t)st.st_size + 1, n = 0;
    char *b = malloc(cap + 1);
    if (!b) {
        close(fd);
        return ifs_errf(err, errlen, IFS_IO_ENOMEM, "%s: out of memory", path);
    }
    for (;;) {
        ssize_t got = read(fd, b + n, cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int e = errno;
            free(b);
            close(fd);
            return ifs_errf(err, errlen, IFS_IO_EIO, "%s: %s", path, strerror(e));
        }
        if (got == 0)
            break;
        n += (size_t)got;
        if (n == cap) { /* it grew while read: at most max_bytes, then refuse */
            if ((uint64_t)n > max_bytes) {
                free(b);
                close(fd);
                return ifs_errf(err, errlen, IFS_IO_EIO, "%s: grew past the %llu bytes allowed",
                                path, (unsigned long long)max_bytes);
            }
            size_t nc = cap * 2 > max_bytes + 1 ? (size_t)max_bytes + 1 : cap * 2;
            char *nb = realloc(b, nc + 1);
            if (!nb) {
                free(b);
                close(fd);
                return ifs_errf(err, errlen, IFS_IO_ENOMEM, "%s: out of memory", path);
            }
            b = nb;
            cap = nc;
        }
    }
    close(fd);
    b[n] = '\0';
    *out = b;
    if (len)
        *len = n;
    return 0;
}

int ifs_io_copy_file(const char *src, const char *dst, uint64_t max_bytes, char *err, size_t errlen)
{
    char *b = NULL;
    size_t n = 0;
    int rc = ifs_io_read_file(src, max_bytes, &b, &n, err, errlen);
    if (rc == 0)
        rc = ifs_io_atomic_write(dst, b, n, err, errlen);
    free(b);
    return rc;
}
