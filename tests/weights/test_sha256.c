/*
 * test_sha256.c - SHA-256 against the FIPS 180-4 / NIST example vectors, in
 * one shot, fed in awkward chunk sizes, and through the file helper; the
 * context's life cycle (sticky errors, final twice, discard); files that are
 * not regular (a FIFO, a folder, /dev/zero) refused at once, never read.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ifs_sha256.h"
#include "ifs_test.h"

typedef struct {
    const char *name;
    const char *msg; /* repeated `repeat` times */
    size_t repeat;
    const char *hex;
} vector;

static const vector VECTORS[] = {
    {"empty_message_hashes_to_the_nist_value", "", 1,
     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
    {"abc_hashes_to_the_nist_value", "abc", 1,
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
    {"448_bit_message_needs_a_second_padding_block",
     "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", 1,
     "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
    {"896_bit_message_hashes_to_the_nist_value",
     "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnop"
     "qrsmnopqrstnopqrstu",
     1, "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    {"one_million_a_hashes_to_the_nist_value", "a", 1000000,
     "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"},
    {"exactly_one_block_of_64_bytes_pads_into_a_new_block",
     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", 1,
     "a8ae6e6ee929abea3afcfc5258c8ccd6f85273e0d4626d26c7279f3250f77c8e"},
};

static char *expand(const vector *v, size_t *len)
{
    size_t k = strlen(v->msg);
    *len = k * v->repeat;
    char *b = malloc(*len + 1);
    for (size_t i = 0; i < v->repeat; i++)
        memcpy(b + i * k, v->msg, k);
    b[*len] = '\0';
    return b;
}

static void life_cycle(void)
{
    ifs_sha256_ctx c;
    char hex[65];
    IFS_CHECK(ifs_sha256_init(&c) == 0 && ifs_sha256_update(&c, NULL, 0) == 0 &&
                  ifs_sha256_update(&c, "abc", 3) == 0 && ifs_sha256_final_hex(&c, hex) == 0 &&
                  !strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
              "an_empty_update_with_null_data_changes_nothing");
    IFS_CHECK(ifs_sha256_final_hex(&c, hex) == IFS_SHA256_EARG && hex[0] == '\0',
              "a_second_final_is_refused_with_an_empty_digest");
    IFS_CHECK(ifs_sha256_update(&c, "abc", 3) == IFS_SHA256_EARG,
              "an_update_after_final_is_refused");
    IFS_CHECK(ifs_sha256_init(&c) == 0 && ifs_sha256_update(&c, NULL, 5) == IFS_SHA256_EARG &&
                  ifs_sha256_update(&c, "abc", 3) == IFS_SHA256_EARG,
              "an_error_is_sticky_across_later_updates");
    uint8_t d[32] = {1};
    IFS_CHECK(ifs_sha256_final(&c, d) == IFS_SHA256_EARG && d[0] == 0 && d[31] == 0,
              "final_after_an_error_returns_it_and_zeros");
    IFS_CHECK(ifs_sha256_init(&c) == 0, "init_again_reuses_a_context");
    ifs_sha256_update(&c, "abc", 3);
    ifs_sha256_discard(&c);
    ifs_sha256_discard(&c);
    ifs_sha256_discard(NULL);
    IFS_CHECK(ifs_sha256_final_hex(&c, hex) == IFS_SHA256_EARG,
              "discard_ends_a_context_and_may_be_repeated");
    IFS_CHECK(ifs_sha256_hex(NULL, 0, hex) == 0 &&
                  !strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
              "one_shot_of_nothing_accepts_null");
    static const int codes[] = {IFS_SHA256_OK,     IFS_SHA256_EIO,  IFS_SHA256_ENOTREG,
                                IFS_SHA256_ENOMEM, IFS_SHA256_ELIB, IFS_SHA256_EARG};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        IFS_CHECK(strcmp(ifs_sha256_strerror(codes[i]), "unknown status") != 0,
                  "every_status_has_words (%d)", codes[i]);
}

/* Opened with O_NONBLOCK and refused by kind: a FIFO without a writer would
 * otherwise block forever, /dev/zero would be read forever. */
static void not_regular_files(void)
{
    const char *tmp = ifs_test_env("IFS_TEST_TMP", "/tmp");
    char fifo[4096], hex[65];
    snprintf(fifo, sizeof fifo, "%s/sha256_fifo", tmp);
    unlink(fifo);
    IFS_CHECK(mkfifo(fifo, 0600) == 0, "cannot make %s", fifo);
    IFS_CHECK(ifs_sha256_file_hex(fifo, hex) == IFS_SHA256_ENOTREG,
              "a_fifo_is_refused_without_waiting_for_a_writer");
    unlink(fifo);
    IFS_CHECK(ifs_sha256_file_hex(tmp, hex) == IFS_SHA256_ENOTREG, "a_folder_is_refused");
    IFS_CHECK(ifs_sha256_file_hex("/dev/zero", hex) == IFS_SHA256_ENOTREG,
              "dev_zero_is_refused_not_read_forever");
}

int main(void)
{
    for (size_t i = 0; i < sizeof VECTORS / sizeof VECTORS[0]; i++) {
        const vector *v = &VECTORS[i];
        size_t len;
        char *msg = expand(v, &len);
        char hex[65];
        ifs_sha256_hex(msg, len, hex);
        /* NIST's published digests; the 64-byte one is from coreutils' sha256sum */
        IFS_CHECK(!strcmp(hex, v->hex), "%s: got %s want %s", v->name, hex, v->hex);

        /* chunked: sizes 0, 1, 63, 64, 65, 127 in turn must give the same digest */
        static const size_t steps[] = {0, 1, 63, 64, 65, 127, 3};
        ifs_sha256_ctx c;
        ifs_sha256_init(&c);
        size_t pos = 0, s = 0;
        while (pos < len) {
            size_t n = steps[s++ % (sizeof steps / sizeof steps[0])];
            if (n > len - pos)
                n = len - pos;
            ifs_sha256_update(&c, msg + pos, n);
            pos += n;
        }
        char hex2[65];
        ifs_sha256_final_hex(&c, hex2);
        IFS_CHECK(!strcmp(hex, hex2), "%s: chunked digest %s differs from one-shot %s", v->name,
                  hex2, hex);

        /* the file helper */
        const char *tmp = ifs_test_env("IFS_TEST_TMP", "/tmp");
        char path[4096];
        snprintf(path, sizeof path, "%s/sha256_vector_%zu.bin", tmp, i);
        FILE *f = fopen(path, "wb");
        IFS_CHECK(f != NULL, "cannot write %s", path);
        if (f) {
            fwrite(msg, 1, len, f);
            fclose(f);
            char hex3[65];
            IFS_CHECK(ifs_sha256_file_hex(path, hex3) == 0, "%s: file hash failed", v->name);
            IFS_CHECK(!strcmp(hex, hex3), "%s: file digest %s differs", v->name, hex3);
            /* an independent implementation, where the machine has one */
            char cmd[4200];
            snprintf(cmd, sizeof cmd, "sha256sum '%s' 2>/dev/null", path);
            FILE *p = popen(cmd, "r");
            char line[256] = "";
            if (p) {
                if (!fgets(line, sizeof line, p))
                    line[0] = '\0';
                pclose(p);
            }
            if (strlen(line) >= 64)
                IFS_CHECK(!strncmp(line, hex, 64), "%s: sha256sum says %.64s, we say %s", v->name,
                          line, hex);
            remove(path);
        }
        free(msg);
    }
    life_cycle();
    not_regular_files();
    char hex[65] = "x";
    IFS_CHECK(ifs_sha256_file_hex("/nonexistent/ifscore/file", hex) == IFS_SHA256_EIO &&
                  errno == ENOENT && hex[0] == '\0',
              "a_missing_file_is_an_io_error_with_errno_and_an_empty_digest");
    return ifs_test_done("sha256");
}
