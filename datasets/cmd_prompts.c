/*
 * cmd_prompts.c - `ifscore prompts --variant A|B|C|short`: the instruction set
 * rendered as JSONL {id, prompt} for any generation stack.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"
#include "ifs_cli.h"
#include "ifs_shard.h"

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

typedef struct {
    ifs_shard_writer *w;
    ifs_ds_prompt variant;
    char *pbuf;          /* the rendered prompt; grows, never shrinks */
    size_t pcap;
    ds_buf line;
    uint64_t written, missing;
} prompts_ctx;

static int one(const cJSON *obj, const char *raw, size_t raw_len, const char *shard,
               uint64_t line, void *user)
{
    (void)raw;
    (void)raw_len;
    (void)shard;
    (void)line;
    prompts_ctx *p = user;
    size_t il, idl;
    const char *instr = ds_get_str(obj, "instruction", &il);
    const char *id = ds_get_str(obj, "id", &idl);
    if (!instr || !id) {
        p->missing++;
        return 0;
    }
    size_t need = ifs_ds_prompt_render(p->variant, instr, il, NULL, 0);
    if (p->pcap < need + 1) {
        char *np = realloc(p->pbuf, need + 1);
        if (!np)
            return IFS_DS_ENOMEM;
        p->pbuf = np;
        p->pcap = need + 1;
    }
    size_t plen = ifs_ds_prompt_render(p->variant, instr, il, p->pbuf, p->pcap);
    ds_buf_reset(&p->line);
    ds_buf_puts(&p->line, "{");
    ds_buf_kv_str(&p->line, "id", id, idl);
    ds_buf_kv_str(&p->line, "prompt", p->pbuf, plen);
    ds_buf_puts(&p->line, "}");
    if (p->line.oom || ifs_shard_writer_line(p->w, p->line.p, p->line.n))
        return IFS_DS_EIO;
    p->written++;
    return 0;
}

int ifs_cmd_prompts(int argc, char **argv)
{
    static const struct option opts[] = {
        { "variant", required_argument, 0, 'v' },
        { "out", required_argument, 0, 'o' },
        { "help", no_argument, 0, 'h' },
        { 0, 0, 0, 0 },
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
    prompts_ctx p = { .variant = (ifs_ds_prompt)variant };
    char err[512];
    if (ifs_shard_writer_open(out, NULL, &p.w, err, sizeof err)) {
        fprintf(stderr, "ifscore prompts: %s\n", err);
        return IFS_EXIT_FAIL;
    }
    ds_read_stats rs = { 0 };
    int rc = ds_read_records(argv + optind, argc - optind, one, &p, &rs, err, sizeof err);
    int exit_code = IFS_EXIT_OK;
    if (rc) {
        fprintf(stderr, "ifscore prompts: %s\n", rc == IFS_DS_EIO && !err[0] ? "write failed" : err);
        exit_code = IFS_EXIT_FAIL;
    } else if (ifs_shard_writer_close(p.w, NULL, err, sizeof err)) {
        fprintf(stderr, "ifscore prompts: %s\n", err);
        exit_code = IFS_EXIT_FAIL;
    }
    fprintf(stderr, "prompts (variant %s): %llu prompts; %llu records without id/instruction, "
                    "%llu input lines rejected\n",
            ifs_ds_prompt_name(p.variant), (unsigned long long)p.written,
            (unsigned long long)p.missing, (unsigned long long)rs.rejected_total);
    if (exit_code == IFS_EXIT_OK && (p.missing || rs.rejected_total || rs.stream_errors))
        exit_code = IFS_EXIT_DATA;
    ifs_shard_writer_free(p.w);
    free(p.pbuf);
    ds_buf_free(&p.line);
    return exit_code;
}
