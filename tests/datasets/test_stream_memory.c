/*
 * test_stream_memory.c - memory stays bounded whatever the input's size: a
 * 128 MiB AlpacaEval-style JSON array, minified onto one single line and
 * zstd-compressed, is imported through the real file path while the process's
 * peak resident size is watched. Holding the array (or a line of it) would
 * cost >128 MiB; streaming costs one element plus zstd's buffers.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <zstd.h>

#include "ds_internal.h"
#include "ifs_test.h"

static long peak_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* Writes `[elem,elem,...]` of about `bytes` uncompressed bytes, streaming. */
static long long write_big_array(const char *path, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f) {
        fprintf(stderr, "FAIL: cannot write %s\n", path);
        exit(1);
    }
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    ZSTD_CCtx_setParameter(cc, ZSTD_c_compressionLevel, 1);
    size_t ocap = ZSTD_CStreamOutSize();
    char *obuf = malloc(ocap);
    char elem[1024];
    long long n = 0;
    size_t done = 0;
    int first = 1;
    while (done < bytes) {
        int len = snprintf(elem, sizeof elem,
                           "%s{\"instruction\":\"Question number %lld: why?\",\"output\":\"Because "
                           "of reason %lld, said with care and \\\"quotes\\\" and caf\\u00e9 "
                           "and ünïcödé, at some length to look like a real answer.\","
                           "\"generator\":\"big-model\",\"dataset\":\"synthetic\"}",
                           first ? "[" : ",", n, n * 7);
        first = 0;
        ZSTD_inBuffer in = {elem, (size_t)len, 0};
        while (in.pos < in.size) {
            ZSTD_outBuffer out = {obuf, ocap, 0};
            ZSTD_compressStream2(cc, &out, &in, ZSTD_e_continue);
            fwrite(obuf, 1, out.pos, f);
        }
        done += (size_t)len;
        n++;
    }
    ZSTD_inBuffer in = {"]", 1, 0};
    size_t left;
    do {
        ZSTD_outBuffer out = {obuf, ocap, 0};
        left = ZSTD_compressStream2(cc, &out, &in, ZSTD_e_end);
        fwrite(obuf, 1, out.pos, f);
    } while (left);
    fclose(f);
    free(obuf);
    ZSTD_freeCCtx(cc);
    return n;
}

int main(void)
{
    if (IFS_TEST_SANITIZED)
        IFS_SKIP("under AddressSanitizer RSS measures its shadow memory and quarantine, not ours");
    char dir[512], path[1024], out[1024], err[512];
    snprintf(dir, sizeof dir, "%s/stream", ifs_test_env("IFS_TEST_TMP", "/tmp"));
    mkdir(dir, 0777);
    snprintf(path, sizeof path, "%s/big-model.json.zst", dir);
    snprintf(out, sizeof out, "%s/out", dir);
    long long n = write_big_array(path, (size_t)128 << 20);
    long before = peak_kb();
    ifs_ds_import_opts o = {.format = IFS_DS_FMT_ALPACA_EVAL};
    ds_importer *im = ds_importer_create(&o, err, sizeof err);
    ds_sink *sink = ds_sink_open(out, NULL, err, sizeof err);
    int rc = ds_import_file(im, path, sink, err, sizeof err);
    IFS_CHECK(rc == 0, "big_single_line_array_imports: %s", err);
    IFS_CHECK(ds_sink_finish(sink, NULL, err, sizeof err) == 0, "big_array_manifest: %s", err);
    const ifs_ds_import_stats *st = ds_importer_stats(im);
    IFS_CHECK((long long)st->records == n,
              "every_element_of_the_big_array_is_a_record: %llu of %lld",
              (unsigned long long)st->records, n);
    long after = peak_kb();
    printf("imported %lld records (%.0f MiB of JSON on one line): peak RSS %ld KB before, "
           "%ld KB after (+%ld KB)\n",
           n, (double)st->bytes_text / (1 << 20), before, after, after - before);
    IFS_CHECK(after - before < 48 * 1024,
              "peak_memory_grows_by_less_than_48_MiB_for_a_128_MiB_array: +%ld KB", after - before);
    ds_sink_free(sink);
    ds_importer_free(im);
    char shard[2048];
    snprintf(shard, sizeof shard, "%s/big-model-00000.jsonl.zst", out);
    remove(shard);
    remove(path);
    return ifs_test_done("stream_memory");
}
