/*
 * cmd_verify.c - `ifscore verify DIR|manifest.json`: checks a shard set
 * against its manifest (every shard present, its size, SHA-256, and record
 * count, read through the shard reader so a corrupt or truncated frame is
 * caught). Exit 3 on any mismatch.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ifs_cli.h"
#include "ifs_ds.h"

static void usage(FILE *f)
{
    fputs("usage: ifscore verify DIR|MANIFEST... [-q]\n"
          "\n"
          "Checks each shard set against its manifest.json (written by ifscore pack,\n"
          "import, join, build-instructions and build-responses): the manifest's fields\n"
          "have their types; every listed shard is listed once, is a regular file (FIFOs\n"
          "and devices are refused, never read) and has the listed size, SHA-256, number\n"
          "of records and decompressed size; the totals add up; and every shard file\n"
          "that `ifscore score DIR` would read (*.jsonl, *.jsonl.zst) is listed.\n"
          "\n"
          "  -q, --quiet   print only problems\n"
          "  -h, --help\n"
          "\n"
          "Exit: 0 all match; 3 a mismatch (each printed); 1 a manifest is unreadable.\n",
          f);
}

static void print_problem(const char *line, void *user)
{
    (void)user;
    fprintf(stderr, "verify: %s\n", line);
}

int ifs_cmd_verify(int argc, char **argv)
{
    static const struct option opts[] = {
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default: usage(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return IFS_EXIT_USAGE;
    }
    int exit_code = IFS_EXIT_OK;
    for (int i = optind; i < argc; i++) {
        ifs_ds_verify_stats vs;
        char err[512];
        int rc = ifs_ds_verify(argv[i], &vs, print_problem, NULL, err, sizeof err);
        if (rc == IFS_DS_EIO || (rc && err[0])) {
            fprintf(stderr, "verify: %s\n", err);
            exit_code = IFS_EXIT_FAIL;
            continue;
        }
        if (rc) {
            printf("%s: FAILED: %zu problems (%zu of %zu listed shards bad, %zu shard files "
                   "not listed)\n",
                   argv[i], vs.problems, vs.bad_shards, vs.shards, vs.unlisted);
            if (exit_code == IFS_EXIT_OK)
                exit_code = IFS_EXIT_DATA;
        } else if (!quiet) {
            printf("%s: OK: %zu shards, %llu records\n", argv[i], vs.shards,
                   (unsigned long long)vs.records);
        }
    }
    return exit_code;
}
