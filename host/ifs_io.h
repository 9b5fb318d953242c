/*
 * ifs_io.h - atomic file output and the input list (files, directories, globs).
 *
 * Usage:
 *
 *     ifs_atomic *a;
 *     if (ifs_atomic_open("out/report.json", &a, err, sizeof err)) die(err);
 *     fprintf(ifs_atomic_file(a), "{\"ifs\": %.4f}\n", ifs);   // or ifs_atomic_write
 *     if (ifs_atomic_commit(a, err, sizeof err)) die(err);     // now out/report.json exists
 *     ifs_atomic_free(a);
 *
 *     ifs_input_list in;
 *     if (ifs_io_list_inputs((const char *const *)argv, argc, &in, err, sizeof err)) die(err);
 *     for (size_t i = 0; i < in.n; i++) open_shard(in.files[i].path);
 *     ifs_input_list_free(&in);
 *
 * Atomic output: the bytes go to a temporary file in the target's directory
 * ("<path>.tmp-<pid>-<n>", created O_EXCL with mode 0666 minus umask);
 * commit = flush, fsync the file, rename over the target, fsync the
 * directory. Readers of the target see the old file or the whole new one,
 * never a part; after a crash at most a stray .tmp-* file stays behind.
 * The path "-" means stdout: writes go straight to it, commit flushes it.
 *
 * Input listing (deterministic, for Slurm slicing and resume):
 *   - "-": standard input (is_stdin = 1, size 0); at most once.
 *   - a directory: its regular files named *.jsonl or *.jsonl.zst, not
 *     hidden (no leading '.', which also skips our .tmp-* files), not
 *     recursive. An empty directory is an error.
 *   - an existing file (any name, FIFOs too): itself.
 *   - otherwise, if the argument holds one of * ? [ : glob(3); each match as
 *     above (a matched directory is expanded). No match is an error.
 *   - anything else (missing path): error naming it.
 * The result is sorted by path (strcmp, bytewise) with "-" first, and a file
 * named twice (same device and inode) is listed once.
 *
 * Nothing here prints or exits. Handles are single-threaded.
 */
#ifndef IFS_IO_H
#define IFS_IO_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Statuses (0 = ok). */
enum {
    IFS_IO_EIO = -1,  /* a file or folder cannot be created, written, renamed */
    IFS_IO_EARG = -2, /* an empty path, a closed handle, an argument naming no input */
    IFS_IO_ENOMEM = -3,
};

typedef struct ifs_atomic ifs_atomic;

/* Create the temporary file. Returns 0 and *out, or IFS_IO_EIO (directory
 * missing or not writable), IFS_IO_EARG (empty path), IFS_IO_ENOMEM, with
 * words in err. */
int ifs_atomic_open(const char *path, ifs_atomic **out, char *err, size_t errlen);
/* Append bytes (buffered by stdio). Returns 0 or IFS_IO_EIO (the error is
 * kept and reported by commit with its errno words), IFS_IO_EARG on a
 * closed handle. */
int ifs_atomic_write(ifs_atomic *a, const void *data, size_t len);
/* The underlying stream, for fprintf; borrowed, valid until commit/free.
 * Do not fclose it. Errors on it are caught by commit (ferror). */
FILE *ifs_atomic_file(ifs_atomic *a);
/* Bytes handed to write so far (the file's size after commit when only
 * ifs_atomic_write was used; fprintf'd bytes are counted at commit via ftell
 * for files, not for "-"). */
uint64_t ifs_atomic_bytes(const ifs_atomic *a);
/* Flush, fsync, rename, fsync the directory. Returns 0, or IFS_IO_EIO with
 * words in err, and then the temporary file has been removed and the target
 * left as it was. Call once; the handle still needs ifs_atomic_free. */
int ifs_atomic_commit(ifs_atomic *a, char *err, size_t errlen);
/* Frees; before a successful commit it removes the temporary file. NULL ok. */
void ifs_atomic_free(ifs_atomic *a);

/* Whole-buffer convenience: path gets exactly data[0..len) atomically.
 * Returns 0, or a negative IFS_IO_* status with words in err. */
int ifs_io_atomic_write(const char *path, const void *data, size_t len, char *err, size_t errlen);

/* fsync the directory holding path (after a rename). 0, IFS_IO_EIO or
 * IFS_IO_ENOMEM with words in err. */
int ifs_io_fsync_dir(const char *path, char *err, size_t errlen);

/* Reads a whole regular file of at most max_bytes into a malloc'd buffer
 * (NUL-terminated; the caller frees *out; *len without the NUL). A FIFO,
 * directory or device is refused without blocking (opened O_NONBLOCK, then
 * fstat), as is a file that grows past max_bytes while it is read. Returns 0,
 * IFS_IO_EIO (missing, unreadable, not a regular file, too large: err names
 * the path and why, with errno's words), IFS_IO_EARG (NULL path/out) or
 * IFS_IO_ENOMEM; *out is NULL on failure. */
int ifs_io_read_file(const char *path, uint64_t max_bytes, char **out, size_t *len, char *err,
                     size_t errlen);

/* Copies the regular file src (at most max_bytes, read as ifs_io_read_file
 * does) to dst atomically (ifs_io_atomic_write). Returns 0 or that pair's
 * statuses, with words in err naming the file. */
int ifs_io_copy_file(const char *src, const char *dst, uint64_t max_bytes, char *err,
                     size_t errlen);

typedef struct {
    char *path;    /* owned by the list; "-" for stdin */
    uint64_t size; /* st_size of a regular file; 0 for stdin / FIFOs */
    int is_stdin;
    int is_regular; /* 1 for regular files (size known) */
} ifs_input_file;

typedef struct {
    ifs_input_file *files; /* owned; n entries */
    size_t n;
    uint64_t total_bytes; /* sum of the regular files' sizes */
} ifs_input_list;

/* Expand args into a sorted list (rules above). Returns 0 and fills *out
 * (free with ifs_input_list_free), or IFS_IO_EARG with words in err naming
 * the argument (or saying that memory ran out), and *out empty. nargs == 0 is
 * an error ("no inputs"). */
int ifs_io_list_inputs(const char *const *args, size_t nargs, ifs_input_list *out, char *err,
                       size_t errlen);
/* Frees the entries and zeroes the list. NULL ok. */
void ifs_input_list_free(ifs_input_list *l);

#ifdef __cplusplus
}
#endif

#endif
