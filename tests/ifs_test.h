/*
 * ifs_test.h - the few helpers every C test shares: checks that count
 * failures instead of aborting, so one run reports every broken case, and a
 * plain skip. Header-only; include it from test programs only.
 *
 *     IFS_CHECK(n == 3, "expected 3 tokens, got %d", n);
 *     return ifs_test_done("tokenizer");
 */
#ifndef IFS_TEST_H
#define IFS_TEST_H

#include <stdio.h>
#include <stdlib.h>

static int ifs_test_failures;
static int ifs_test_checks;

#define IFS_CHECK(cond, ...)                                                                       \
    do {                                                                                           \
        ifs_test_checks++;                                                                         \
        if (!(cond)) {                                                                             \
            ifs_test_failures++;                                                                   \
            fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                        \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
        }                                                                                          \
    } while (0)

/* Exit code 77 tells CTest the test was skipped; say why on stdout. */
#define IFS_SKIP(...)                                                                              \
    do {                                                                                           \
        printf("SKIP: ");                                                                          \
        printf(__VA_ARGS__);                                                                       \
        putchar('\n');                                                                             \
        exit(77);                                                                                  \
    } while (0)

/* Under AddressSanitizer (the -DIFS_SANITIZE=ON build, or clang's fuzz
 * build) memory figures mean nothing: shadow memory and quarantine grow RSS.
 * Tests that bound RSS skip themselves there, saying so. */
#if defined(IFS_SANITIZED) || defined(__SANITIZE_ADDRESS__)
#define IFS_TEST_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define IFS_TEST_SANITIZED 1
#endif
#endif
#ifndef IFS_TEST_SANITIZED
#define IFS_TEST_SANITIZED 0
#endif

static inline const char *ifs_test_env(const char *name, const char *dflt)
{
    const char *v = getenv(name);
    return v && *v ? v : dflt;
}

/* A whole file, NUL-terminated, malloc'd (the caller frees); its length in
 * *len when len is not NULL. NULL when it cannot be read. */
static inline char *ifs_test_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *b = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0)
        b = (char *)malloc((size_t)n + 1);
    if (b && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    if (b) {
        b[n] = '\0';
        if (len)
            *len = (size_t)n;
    }
    return b;
}

/* The exit code of a test program: 1 when a check failed, and also when no
 * check ran at all (a test that checks nothing proves nothing). */
static inline int ifs_test_done(const char *suite)
{
    printf("%s: %d checks, %d failed\n", suite, ifs_test_checks, ifs_test_failures);
    if (ifs_test_checks == 0) {
        fprintf(stderr, "FAIL %s: no check ran\n", suite);
        return 1;
    }
    return ifs_test_failures ? 1 : 0;
}

#endif
