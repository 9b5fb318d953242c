/*
 * ifs_sha256.h - the project's one SHA-256 API (FIPS 180-4), for fingerprints
 * of weight files, inputs, manifests and run configurations. Backed by
 * OpenSSL's libcrypto (EVP), which uses the CPU's SHA extensions where the
 * CPU has them: 6.5x the portable C this replaced on the machine measured
 * (benchmarks/results/sha256.jsonl).
 *
 *     ifs_sha256_ctx c;
 *     if (ifs_sha256_init(&c)) ...;            // IFS_SHA256_ENOMEM, _ELIB
 *     ifs_sha256_update(&c, "abc", 3);         // as many times as needed
 *     char hex[65];
 *     if (ifs_sha256_final_hex(&c, hex)) ...;  // "ba7816bf..."
 *
 * Ownership and threads:
 *   - The context is caller-owned storage (stack or heap) that holds a
 *     libcrypto context from init until final: every successful init is
 *     ended by ifs_sha256_final / _final_hex, or by ifs_sha256_discard when
 *     the digest is no longer wanted (an error path), else it leaks. Final
 *     and discard leave the context ended; discard also accepts NULL and an
 *     ended context. Init again to reuse.
 *   - One context per thread; different contexts are independent.
 *   - Errors are sticky: after a failed init or update, update does nothing
 *     and final returns the status. A failed final writes a digest of zero
 *     bytes and an empty hex string, never a plausible-looking wrong digest.
 *   - Nothing here prints or exits.
 */
#ifndef IFS_SHA256_H
#define IFS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Statuses (0 = success). */
enum {
    IFS_SHA256_OK = 0,
    IFS_SHA256_EIO = -1,     /* a file cannot be opened or read */
    IFS_SHA256_ENOTREG = -2, /* the path is not a regular file (FIFO, directory, device) */
    IFS_SHA256_ENOMEM = -3,
    IFS_SHA256_ELIB = -4, /* libcrypto refused (no SHA-256 in its providers) */
    IFS_SHA256_EARG = -5, /* NULL argument, or a context that was not initialised */
};
/* Words for a status; static storage. */
const char *ifs_sha256_strerror(int status);

typedef struct {
    void *evp;  /* libcrypto's EVP_MD_CTX between init and final; private */
    int status; /* first error, sticky; private */
} ifs_sha256_ctx;

/* Starts a digest. 0, IFS_SHA256_ENOMEM or IFS_SHA256_ELIB (the context then
 * holds nothing and needs no discard, though discard is harmless). */
int ifs_sha256_init(ifs_sha256_ctx *c);
/* Adds len bytes (data may be NULL when len is 0). Returns the context's
 * status: 0, or the sticky error of an earlier call. */
int ifs_sha256_update(ifs_sha256_ctx *c, const void *data, size_t len);
/* Writes the 32-byte digest and ends the context. 0 or the sticky error
 * (out is then all zero). */
int ifs_sha256_final(ifs_sha256_ctx *c, uint8_t out[32]);
/* As ifs_sha256_final, as 64 lowercase hex chars + NUL in hex[65] (""
 * on failure). */
int ifs_sha256_final_hex(ifs_sha256_ctx *c, char hex[65]);
/* Ends a context without a digest. Accepts NULL and ended contexts. */
void ifs_sha256_discard(ifs_sha256_ctx *c);

/* One shot over a buffer: 0 or a status (hex is then ""). */
int ifs_sha256_hex(const void *data, size_t len, char hex[65]);
/* Hashes a whole regular file, read to its end. Opened with O_NONBLOCK, so
 * a FIFO or a device is refused (IFS_SHA256_ENOTREG) rather than waited on
 * or read forever. 0, IFS_SHA256_EIO (errno says why), IFS_SHA256_ENOTREG
 * or IFS_SHA256_ENOMEM; hex is "" on failure. */
int ifs_sha256_file_hex(const char *path, char hex[65]);

#ifdef __cplusplus
}
#endif
#endif /* IFS_SHA256_H */
