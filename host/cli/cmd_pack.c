/*
 * cmd_pack.c - `ifscore pack`: the command line of ifs_ds_pack (records into
 * .jsonl.zst shards of N records or M bytes with a manifest, which `ifscore
 * verify` checks; lines copied verbatim, non-records left out and counted).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_cli.h"
#include "ifs_ds.h"

static void usage(FILE *f)
{
    fputs("usage: ifscore pack INPUT... --out DIR [--records N | --bytes SIZE] [options]\n"
          "\n"
          "Copies the records (JSON object lines) of INPUT (.jsonl, .jsonl.zst, folders,\n"
          "globs, - for stdin) into DIR/<name>-NNNNN.jsonl.zst shards and writes\n"
          "DIR/manifest.json with each shard's record count, size and SHA-256.\n"
          "\n"
          "options:\n"
          "  -o, --out DIR        output folder (created)\n"
          "  -n, --records N      records per shard\n"
          "  -b, --bytes SIZE     uncompressed bytes per shard at most (e.g. 256M); a\n"
          "                       single larger record gets a shard of its own\n"
          "      --name STEM      shard name prefix (default shard)\n"
          "      --level N        zstd level (default 3)\n"
          "      --plain          write .jsonl shards\n"
          "  -h, --help\n"
          "\n"
          "Exit: 0 ok; 1 failure; 2 usage; 3 some lines were not records (left out).\n",
          f);
}

int ifs_cmd_pack(int argc, char **argv)
{
    enum { O_NAME = 256, O_LEVEL, O_PLAIN };
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},
        {"records", required_argument, 0, 'n'},
        {"bytes", required_argument, 0, 'b'},
        {"name", required_argument, 0, O_NAME},
        {"level", required_argument, 0, O_LEVEL},
        {"plain", no_argument, 0, O_PLAIN},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    ifs_ds_sink_opts so = {0};
    const char *out = NULL, *name = "shard";
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:n:b:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'n':
            if (ifs_ds_parse_size(optarg, &so.max_records) || !so.max_records) {
                fprintf(stderr, "ifscore pack: --records wants N > 0\n");
                return IFS_EXIT_USAGE;
            }
            break;
        case 'b':
            if (ifs_ds_parse_size(optarg, &so.max_bytes) || !so.max_bytes) {
                fprintf(stderr, "ifscore pack: --bytes wants a size like 256M\n");
                return IFS_EXIT_USAGE;
            }
            break;
        case O_NAME:
            if (!*optarg || strchr(optarg, '/')) {
                fprintf(stderr, "ifscore pack: --name wants a plain file name prefix\n");
                return IFS_EXIT_USAGE;
            }
            name = optarg;
            break;
        case O_LEVEL:
            so.level = atoi(optarg);
            if (so.level < 1 || so.level > 19) {
                fprintf(stderr, "ifscore pack: --level wants 1..19\n");
                return IFS_EXIT_USAGE;
            }
            break;
        case O_PLAIN: so.plain = 1; break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default: usage(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (optind >= argc || !out) {
        fprintf(stderr, "ifscore pack: needs INPUT... and --out DIR (see --help)\n");
        return IFS_EXIT_USAGE;
    }
    ifs_ds_pack_result r;
    char err[512] = "";
    if (ifs_ds_pack(argv + optind, argc - optind, out, name, &so, &r, err, sizeof err)) {
        fprintf(stderr, "ifscore pack: %s\n", err);
        return IFS_EXIT_FAIL;
    }
    fprintf(stderr,
            "pack: %llu lines -> %llu records in %zu shards; %llu lines left out, "
            "%llu inputs cut short\n",
            (unsigned long long)r.lines, (unsigned long long)r.records, r.shards,
            (unsigned long long)r.rejected_lines, (unsigned long long)r.stream_errors);
    return r.rejected_lines || r.stream_errors ? IFS_EXIT_DATA : IFS_EXIT_OK;
}
