/*
 * fuzz_sample.c - `ifscore sample` reads a scores file as untrusted input.
 * Writes arbitrary bytes to a temporary file and samples it (without reading
 * shards: --no-text) as JSONL and markdown, twice with the seed changed.
 * Properties: it returns OK or a named error, never crashes or leaks; an
 * accepted file samples no more than it matched, the output has the length
 * it says, and the same seed gives the same bytes.
 * A violated property aborts, which libFuzzer reports as a crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ifs_sample.h"

static void die(const char *what)
{
    fprintf(stderr, "fuzz_sample: %s\n", what);
    abort();
}

static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        snprintf(path, sizeof path, "/tmp/fuzz_sample_%ld.jsonl", (long)getpid());
    }
    FILE *f = fopen(path, "wb");
    if (!f)
        return 0;
    if (size)
        fwrite(data, 1, size, f);
    fclose(f);
    for (int fmt = 0; fmt < 2; fmt++) {
        ifs_sample_opts o;
        ifs_sample_opts_init(&o);
        o.with_text = 0;
        o.per_group = 2;
        o.format = fmt ? IFS_SAMPLE_MARKDOWN : IFS_SAMPLE_JSONL;
        char *a = NULL, *b = NULL, err[512];
        size_t la = 0, lb = 0;
        ifs_sample_stats st;
        int rc = ifs_sample_run(path, &o, &a, &la, &st, err, sizeof err);
        if (rc) {
            if (a || !err[0])
                die("a failure left output or gave no words");
            continue;
        }
        if (strlen(a) != la || st.sampled > st.matched || st.matched > st.lines ||
            st.sampled > 2 * st.groups)
            die("an accepted file's output or counts are inconsistent");
        if (ifs_sample_run(path, &o, &b, &lb, NULL, err, sizeof err) || la != lb ||
            memcmp(a, b, la))
            die("the same seed gave another sample");
        free(b);
        b = NULL;
        o.seed = 2;
        if (ifs_sample_run(path, &o, &b, &lb, NULL, err, sizeof err))
            die("another seed failed on an accepted file");
        free(a);
        free(b);
    }
    return 0;
}
