/*
 * fuzz_manifest.c - `ifscore verify`'s manifest reader on untrusted bytes:
 * the input becomes manifest.json of a folder that also holds one real
 * shard (s-00000.jsonl.zst, 3 records) and a FIFO (f-00000.jsonl.zst), so a
 * manifest naming either gets its shard checks run. Invariants: verify
 * returns (never blocks on the FIFO), with a status it documents, and its
 * statistics add up.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ifs_ds.h"

static char dir[256];

static void setup(void)
{
    snprintf(dir, sizeof dir, "/tmp/fuzz_manifest.%d", (int)getpid());
    mkdir(dir, 0777);
    /* a real shard set of one shard; its manifest is replaced by each input */
    char p[512];
    snprintf(p, sizeof p, "%s/src.jsonl", dir);
    FILE *f = fopen(p, "w");
    if (!f)
        abort();
    fputs("{\"id\":\"a\"}\n{\"id\":\"b\"}\n{\"id\":\"c\"}\n", f);
    fclose(f);
    char *inputs[] = {p};
    ifs_ds_pack_result r;
    char err[256];
    if (ifs_ds_pack(inputs, 1, dir, "s", NULL, &r, err, sizeof err))
        abort();
    unlink(p);
    snprintf(p, sizeof p, "%s/f-00000.jsonl.zst", dir);
    mkfifo(p, 0666);
}

static void count(const char *line, void *user)
{
    (void)line;
    (*(size_t *)user)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0])
        setup();
    char p[512];
    snprintf(p, sizeof p, "%s/manifest.json", dir);
    FILE *f = fopen(p, "wb");
    if (!f)
        abort();
    fwrite(data, 1, size, f);
    fclose(f);
    ifs_ds_verify_stats vs;
    char err[512];
    size_t lines = 0;
    int rc = ifs_ds_verify(dir, &vs, count, &lines, err, sizeof err);
    if (rc != 0 && rc != IFS_DS_EFORMAT && rc != IFS_DS_EIO && rc != IFS_DS_ENOMEM)
        abort();
    if (rc == 0 && (lines || vs.problems))
        abort(); /* OK means nothing was reported */
    if (rc == IFS_DS_EFORMAT && !lines && !err[0])
        abort(); /* a failure always says why */
    /* each problem is reported at least once (a bad entry may say several things) */
    if (lines < vs.problems || vs.bad_shards > vs.shards)
        abort();
    return 0;
}
