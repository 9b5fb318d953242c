/*
 * ifs_sha256.h - SHA-256 (FIPS 180-4), small and dependency-free, for
 * fingerprints of weight files, inputs and run configurations.
 *
 *     ifs_sha256_ctx c;
 *     ifs_sha256_init(&c);
 *     ifs_sha256_update(&c, "abc", 3);
 *     char hex[65];
 *     ifs_sha256_final_hex(&c, hex);   // "ba7816bf..."
 *
 * The context is caller-owned, plain data; one context per thread.
 */
#ifndef IFS_SHA256_H
#define IFS_SHA256_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint32_t h[8];
    uint64_t n_bytes;
    uint8_t buf[64];
    size_t buf_len;
} ifs_sha256_ctx;

void ifs_sha256_init(ifs_sha256_ctx *c);
void ifs_sha256_update(ifs_sha256_ctx *c, const void *data, size_t len);
/* Writes the 32-byte digest; the context must be re-initialised to reuse. */
void ifs_sha256_final(ifs_sha256_ctx *c, uint8_t out[32]);
/* Writes 64 lowercase hex chars + NUL into hex[65]. */
void ifs_sha256_final_hex(ifs_sha256_ctx *c, char hex[65]);
/* One-shot helpers. */
void ifs_sha256_hex(const void *data, size_t len, char hex[65]);
/* Hashes a whole file; 0 on success, -1 if it cannot be read. */
int ifs_sha256_file_hex(const char *path, char hex[65]);

#ifdef __cplusplus
}
#endif
#endif /* IFS_SHA256_H */
