/*
 * cmd_prompts.c - `ifscore prompts --variant A|B|C|short`: the command line of
 * ifs_ds_prompts (the instruction set rendered as JSONL {id, prompt} for any
 * generation stack).
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ifs_cli.h"
#include "ifs_ds.h"

static void usage(FILE *f)
{
    fputs("usage: ifscore prompts INSTRUCTIONS... --variant A|B|C|short [-o FILE]\n"
          "\n"
          "Renders every record {id, instruction} of the instruction set as one JSONL line\n"
          "{\"id\", \"prompt\"}, to feed any generation stack; `ifscore join` merges the\n"
          "outputs back by id. Variants (../shared/docs/ifs-method.md):\n"
          "  A      Below is an instruction that describes a task. Write a response that\n"
          "         appropriately completes the request.\\n\\n### Instruction:\\n{instruction}\n"
          "         \\n\\n### Response:\n"
          "  B      {instruction}\\n\\n### Response:\n"
          "  C      {instruction}\n"
          "  short  {instruction}### Response:   (the paper's SFT form)\n"
          "\n"
          "options:\n"
          "  -v, --variant V   A, B, C or short (required)\n"
          "  -o, --out FILE    output (.jsonl, or .jsonl.zst to compress; default - = stdout),\n"
          "                    written atomically\n"
          "  -h, --help\n"
          "\n"
          "Exit: 0 ok; 1 failure; 2 usage; 3 records without id or instruction were left out.\n",
          f);
}

int ifs_cmd_prompts(int argc, char **argv)
{
    static const struct option opts[] = {
        {"variant", required_argument, 0, 'v'},
        {"out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    const char *out = "-";
    int variant = -1, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "v:o:h", opts, NULL)) != -1) {
        switch (c) {
        case 'v':
            variant = ifs_ds_prompt_parse(optarg);
            if (variant < 0) {
                fprintf(stderr, "ifscore prompts: --variant is A, B, C or short\n");
                return IFS_EXIT_USAGE;
            }
            break;
        case 'o': out = optarg; break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default: usage(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (optind >= argc || variant < 0) {
        fprintf(stderr, "ifscore prompts: needs INSTRUCTIONS... and --variant (see --help)\n");
        return IFS_EXIT_USAGE;
    }
    ifs_ds_prompts_result r;
    char err[512] = "";
    int rc = ifs_ds_prompts(argv + optind, argc - optind, (ifs_ds_prompt)variant, out, &r, err,
                            sizeof err);
    if (rc)
        fprintf(stderr, "ifscore prompts: %s\n", err);
    fprintf(stderr,
            "prompts (variant %s): %llu prompts; %llu records without id/instruction, "
            "%llu input lines rejected\n",
            ifs_ds_prompt_name((ifs_ds_prompt)variant), (unsigned long long)r.written,
            (unsigned long long)r.missing, (unsigned long long)r.rejected_lines);
    if (rc)
        return IFS_EXIT_FAIL;
    return r.missing || r.rejected_lines || r.stream_errors ? IFS_EXIT_DATA : IFS_EXIT_OK;
}
