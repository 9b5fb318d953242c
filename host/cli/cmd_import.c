/*
 * cmd_import.c - `ifscore import <format> INPUT... --out DIR`: the command
 * line of ifs_ds_import (chat data in common formats -> pair records in
 * .jsonl.zst shards with a manifest; what was skipped is counted by reason on
 * stderr and in manifest.json).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ifs_cli.h"
#include "ifs_ds.h"

static void usage(FILE *f)
{
    fputs(
        "usage: ifscore import <format> INPUT... --out DIR [options]\n"
        "\n"
        "Converts chat data to ifscore records {id, model, instruction,\n"
        "instruction_type, response, source, source_index, instruction_source, ...},\n"
        "streamed (JSON arrays are split element by element; memory stays bounded).\n"
        "INPUT: files (.json, .jsonl, plain or .zst- or .gz-compressed, detected by\n"
        "their first bytes) or folders of them, or - for stdin.\n"
        "\n"
        "formats:\n"
        "  alpaca-eval  AlpacaEval model_outputs.json: model = generator,\n"
        "               id = <generator>/<index>, instruction_type = full\n"
        "  alpaca       Alpaca-style {instruction, input, output}; instruction gets\n"
        "               \"\\n\\n\" + input when input is non-empty; model = --model or file stem\n"
        "  oasst        OpenAssistant oasst1, trees export (one tree per line) or flat\n"
        "               messages export (trees listed contiguously): the first prompt with\n"
        "               its best-ranked assistant reply; deleted / failed-review skipped\n"
        "  sharegpt     {id, conversations: [{from, value}]} (or messages: [{role, content}]):\n"
        "               the first human turn (after system turns) and the reply to it\n"
        "  hh           Anthropic HH-RLHF transcripts {chosen: \"\\n\\nHuman: ...\\n\\n\n"
        "               Assistant: ...\", rejected}: the first human turn and the reply to it\n"
        "               (from chosen; --map transcript=rejected for the other); model =\n"
        "               --model or file stem\n"
        "  json         any JSON / JSONL with --map (defaults: instruction, response,\n"
        "               model, id, instruction_type, instruction_source)\n"
        "\n"
        "instruction_source (what build-responses holds out and reports by):\n"
        "alpaca_eval:<dataset> for alpaca-eval, the file stem for alpaca, oasst1,\n"
        "sharegpt, hh; json reads it from the data.\n"
        "\n"
        "options:\n"
        "  -o, --out DIR             output folder (created; shards + manifest.json)\n"
        "      --model NAME          model name for every record (overrides the data)\n"
        "      --instruction-source NAME  instruction_source of every record\n"
        "      --lang LIST           oasst: languages to keep, comma-separated, or all\n"
        "                            (default en)\n"
        "      --map F=PATH,...      json: where each field is; F in id, model,\n"
        "                            instruction, response, instruction_type, input,\n"
        "                            instruction_source; hh: transcript. PATH is dotted,\n"
        "                            digits index arrays (messages.0.content)\n"
        "      --shard-records N     start a new shard every N records (default: one\n"
        "                            shard per input file)\n"
        "      --shard-bytes SIZE    ... or every SIZE uncompressed bytes (e.g. 256M)\n"
        "      --level N             zstd level (default 3)\n"
        "      --plain               write .jsonl instead of .jsonl.zst\n"
        "      --max-record-bytes SIZE  larger elements are skipped (default 16M)\n"
        "      --fail-on-skip        exit 3 when anything was skipped\n"
        "  -q, --quiet               no summary on stderr\n"
        "  -h, --help\n"
        "\n"
        "Exit: 0 ok; 3 an input file was malformed or truncated (the others were\n"
        "imported), or --fail-on-skip and something was skipped; 1 output failure;\n"
        "2 usage.\n",
        f);
}

static void print_error(const char *words, void *user)
{
    (void)user;
    fprintf(stderr, "ifscore import: %s\n", words);
}

static int set_map(ifs_ds_import_opts *o, char *list, char *err, size_t errlen)
{
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1]) {
            snprintf(err, errlen, "--map: '%s' is not FIELD=PATH", tok);
            return -1;
        }
        *eq = 0;
        const char *path = eq + 1;
        if (!strcmp(tok, "id"))
            o->f_id = path;
        else if (!strcmp(tok, "model"))
            o->f_model = path;
        else if (!strcmp(tok, "instruction"))
            o->f_instruction = path;
        else if (!strcmp(tok, "response"))
            o->f_response = path;
        else if (!strcmp(tok, "instruction_type"))
            o->f_type = path;
        else if (!strcmp(tok, "input"))
            o->f_input = path;
        else if (!strcmp(tok, "instruction_source"))
            o->f_source = path;
        else if (!strcmp(tok, "transcript"))
            o->f_transcript = path;
        else {
            snprintf(err, errlen, "--map: unknown field '%s'", tok);
            return -1;
        }
    }
    return 0;
}

int ifs_cmd_import(int argc, char **argv)
{
    enum {
        O_MODEL = 256,
        O_LANG,
        O_MAP,
        O_SREC,
        O_SBYTES,
        O_LEVEL,
        O_PLAIN,
        O_MAXREC,
        O_FAIL,
        O_ISRC
    };
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},
        {"model", required_argument, 0, O_MODEL},
        {"instruction-source", required_argument, 0, O_ISRC},
        {"lang", required_argument, 0, O_LANG},
        {"map", required_argument, 0, O_MAP},
        {"shard-records", required_argument, 0, O_SREC},
        {"shard-bytes", required_argument, 0, O_SBYTES},
        {"level", required_argument, 0, O_LEVEL},
        {"plain", no_argument, 0, O_PLAIN},
        {"max-record-bytes", required_argument, 0, O_MAXREC},
        {"fail-on-skip", no_argument, 0, O_FAIL},
        {"quiet", no_argument, 0, 'q'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    ifs_ds_import_opts io = {0};
    ifs_ds_sink_opts so = {0};
    const char *out = NULL, *lang = NULL;
    char *map = NULL;
    int fail_on_skip = 0, quiet = 0;
    char err[512];
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "o:qh", opts, NULL)) != -1) {
        uint64_t v;
        switch (c) {
        case 'o': out = optarg; break;
        case O_MODEL: io.model = optarg; break;
        case O_ISRC: io.instruction_source = optarg; break;
        case O_LANG: lang = optarg; break;
        case O_MAP: map = optarg; break;
        case O_SREC:
            if (ifs_ds_parse_size(optarg, &so.max_records) || !so.max_records) {
                fprintf(stderr, "ifscore import: --shard-records wants a positive number\n");
                return IFS_EXIT_USAGE;
            }
            break;
        case O_SBYTES:
            if (ifs_ds_parse_size(optarg, &so.max_bytes) || !so.max_bytes) {
                fprintf(stderr, "ifscore import: --shard-bytes wants a size like 256M\n");
                return IFS_EXIT_USAGE;
            }
            break;
        case O_LEVEL:
            so.level = atoi(optarg);
            if (so.level < 1 || so.level > 19) {
                fprintf(stderr, "ifscore import: --level wants 1..19\n");
                return IFS_EXIT_USAGE;
            }
            break;
        case O_PLAIN: so.plain = 1; break;
        case O_MAXREC:
            if (ifs_ds_parse_size(optarg, &v) || v < 16) {
                fprintf(stderr, "ifscore import: --max-record-bytes wants a size like 16M\n");
                return IFS_EXIT_USAGE;
            }
            io.max_elem = (size_t)v;
            break;
        case O_FAIL: fail_on_skip = 1; break;
        case 'q': quiet = 1; break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default: usage(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return IFS_EXIT_USAGE;
    }
    int fmt = ifs_ds_format_parse(argv[optind]);
    if (fmt < 0) {
        fprintf(stderr,
                "ifscore import: unknown format '%s' (alpaca-eval, alpaca, oasst, "
                "sharegpt, hh, json)\n",
                argv[optind]);
        return IFS_EXIT_USAGE;
    }
    optind++;
    if (optind >= argc || !out) {
        fprintf(stderr, "ifscore import: needs INPUT... and --out DIR (see --help)\n");
        return IFS_EXIT_USAGE;
    }
    io.format = (ifs_ds_format)fmt;
    io.langs = fmt == IFS_DS_FMT_OASST ? (lang ? lang : "en") : NULL;
    if (lang && fmt != IFS_DS_FMT_OASST)
        fprintf(stderr, "ifscore import: --lang only applies to oasst; ignored\n");
    if (map && set_map(&io, map, err, sizeof err)) {
        fprintf(stderr, "ifscore import: %s\n", err);
        return IFS_EXIT_USAGE;
    }
    ifs_ds_import_result r;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    int rc = ifs_ds_import(&io, &so, argv + optind, argc - optind, out, print_error, NULL, &r, err,
                           sizeof err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
    if (rc && rc != IFS_DS_EFORMAT)
        fprintf(stderr, "ifscore import: %s\n", err);
    if (rc == IFS_DS_EARG)
        return IFS_EXIT_USAGE;
    const ifs_ds_import_stats *st = &r.st;
    uint64_t skipped = 0;
    for (int i = 0; i < IFS_DS_SKIP__COUNT; i++)
        skipped += st->skipped[i];
    if (!quiet) {
        fprintf(stderr,
                "import %s: %llu files, %llu elements -> %llu records in %zu shards, "
                "%llu merged, %llu skipped, %llu file errors; %.1f MB read in %.2f s\n",
                ifs_ds_format_name(io.format), (unsigned long long)st->files,
                (unsigned long long)st->elements, (unsigned long long)st->records, r.shards,
                (unsigned long long)st->merged, (unsigned long long)skipped,
                (unsigned long long)st->file_errors, (double)st->bytes_text / 1e6, secs);
        for (int i = 0; i < IFS_DS_SKIP__COUNT; i++)
            if (st->skipped[i])
                fprintf(stderr, "  skipped %-20s %llu\n", ifs_ds_skip_name((ifs_ds_skip)i),
                        (unsigned long long)st->skipped[i]);
    }
    if (rc == IFS_DS_EFORMAT)
        return IFS_EXIT_DATA;
    if (rc)
        return IFS_EXIT_FAIL;
    return fail_on_skip && skipped ? IFS_EXIT_DATA : IFS_EXIT_OK;
}
