/*
 * sha256.c - ifs_sha256.h over libcrypto's EVP interface.
 *
 * Decisions:
 *   - libcrypto, not our own code: OpenSSL's SHA-256 uses the CPU's SHA
 *     extensions (or its SIMD assembly where they are absent); our portable
 *     C loop ran at 0.15x its speed on the benchmark machine
 *     (benchmarks/weights/bench_sha256.c, benchmarks/results/sha256.jsonl)
 *     and was deleted.
 *   - The EVP_MD comes from EVP_sha256(): a static object of libcrypto, so
 *     this file keeps no state of its own and needs no initialisation call.
 *   - Errors are sticky in the context so callers that hash in a loop check
 *     once, at final; a failed final writes zeros / "" so a caller that
 *     ignores the status compares unequal to every real digest.
 */
#include "ifs_sha256.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FILE_CHUNK (1u << 20)

const char *ifs_sha256_strerror(int status)
{
    switch (status) {
    case IFS_SHA256_OK: return "ok";
    case IFS_SHA256_EIO: return "cannot open or read the file";
    case IFS_SHA256_ENOTREG: return "not a regular file";
    case IFS_SHA256_ENOMEM: return "out of memory";
    case IFS_SHA256_ELIB: return "libcrypto has no SHA-256";
    case IFS_SHA256_EARG: return "bad argument";
    default: return "unknown status";
    }
}

int ifs_sha256_init(ifs_sha256_ctx *c)
{
    if (!c)
        return IFS_SHA256_EARG;
    c->status = IFS_SHA256_OK;
    c->evp = EVP_MD_CTX_new();
    if (!c->evp)
        return c->status = IFS_SHA256_ENOMEM;
    if (EVP_DigestInit_ex(c->evp, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(c->evp);
        c->evp = NULL;
        return c->status = IFS_SHA256_ELIB;
    }
    return 0;
}

int ifs_sha256_update(ifs_sha256_ctx *c, const void *data, size_t len)
{
    if (!c)
        return IFS_SHA256_EARG;
    if (c->status)
        return c->status;
    if (!c->evp || (len && !data))
        return c->status = IFS_SHA256_EARG;
    if (len && EVP_DigestUpdate(c->evp, data, len) != 1)
        return c->status = IFS_SHA256_ELIB;
    return 0;
}

void ifs_sha256_discard(ifs_sha256_ctx *c)
{
    if (!c)
        return;
    EVP_MD_CTX_free(c->evp);
    c->evp = NULL;
}

int ifs_sha256_final(ifs_sha256_ctx *c, uint8_t out[32])
{
    if (!c || !out)
        return IFS_SHA256_EARG;
    int rc = c->status ? c->status : c->evp ? 0 : IFS_SHA256_EARG;
    unsigned n = 0;
    if (!rc && (EVP_DigestFinal_ex(c->evp, out, &n) != 1 || n != 32))
        rc = IFS_SHA256_ELIB;
    ifs_sha256_discard(c);
    c->status = rc;
    if (rc)
        memset(out, 0, 32);
    return rc;
}

static void to_hex(const uint8_t d[32], char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        hex[2 * i] = digits[d[i] >> 4];
        hex[2 * i + 1] = digits[d[i] & 15];
    }
    hex[64] = '\0';
}

int ifs_sha256_final_hex(ifs_sha256_ctx *c, char hex[65])
{
    if (!hex)
        return IFS_SHA256_EARG;
    uint8_t d[32];
    int rc = ifs_sha256_final(c, d);
    if (rc)
        hex[0] = '\0';
    else
        to_hex(d, hex);
    return rc;
}

int ifs_sha256_hex(const void *data, size_t len, char hex[65])
{
    if (!hex)
        return IFS_SHA256_EARG;
    hex[0] = '\0';
    if (len && !data)
        return IFS_SHA256_EARG;
    uint8_t d[32];
    unsigned n = 0;
    static const uint8_t none[1];
    if (EVP_Digest(len ? data : none, len, d, &n, EVP_sha256(), NULL) != 1 || n != 32)
        return IFS_SHA256_ELIB;
    to_hex(d, hex);
    return 0;
}

int ifs_sha256_file_hex(const char *path, char hex[65])
{
    if (!path || !hex)
        return IFS_SHA256_EARG;
    hex[0] = '\0';
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return IFS_SHA256_EIO;
    struct stat sb;
    if (fstat(fd, &sb) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return IFS_SHA256_EIO;
    }
    if (!S_ISREG(sb.st_mode)) {
        close(fd);
        return IFS_SHA256_ENOTREG;
    }
    uint8_t *buf = malloc(FILE_CHUNK);
    ifs_sha256_ctx c;
    int rc = buf ? ifs_sha256_init(&c) : IFS_SHA256_ENOMEM;
    while (!rc) {
        ssize_t n = read(fd, buf, FILE_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            rc = IFS_SHA256_EIO;
            break;
        }
        if (n == 0)
            break;
        rc = ifs_sha256_update(&c, buf, (size_t)n);
    }
    int e = errno;
    if (!rc)
        rc = ifs_sha256_final_hex(&c, hex);
    else if (buf)
        ifs_sha256_discard(&c);
    free(buf);
    close(fd);
    errno = e;
    return rc;
}
