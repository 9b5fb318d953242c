/*
 * cmd_join.c - `ifscore join INSTRUCTIONS GENERATIONS... --out DIR`: the
 * command line of ifs_ds_join (datasets/join.c): generations merged back
 * with the instruction set into scoring shards.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

#include "ifs_cli.h"
#include "ifs_ds.h"

static void usage(FILE *f)
{
    fputs("usage: ifscore join INSTRUCTIONS GENERATIONS... --out DIR [options]\n"
          "\n"
          "INSTRUCTIONS is the instruction set (a shard, folder of shards or manifest'd\n"
          "folder from build-instructions); GENERATIONS are JSONL files of one line per\n"
          "generation, {\"id\": <instruction id>, \"output\": \"...\"} (also read: response,\n"
          "completion, generation, text). Writes scoring shards\n"
          "{id: <model>/<instruction id>, model, instruction, instruction_type, response,\n"
          " instruction_id, source_id, full_instruction (partial ones), instruction_source,\n"
          " prompt_variant} with a manifest: instruction is what the model was given.\n"
          "\n"
          "options:\n"
          "  -o, --out DIR          output folder\n"
          "  -m, --model NAME       model of every generation (default: each line's\n"
          "                         \"model\" or \"generator\")\n"
          "      --variant V        prompt variant to record (A, B, C, short, or any label)\n"
          "      --output-field F   the generation's text field (default: see above)\n"
          "      --shard-records N  records per shard\n"
          "  -h, --help\n"
          "\n"
          "Exit: 0 ok; 1 failure; 2 usage; 3 some generations could not be joined or\n"
          "some instructions got none.\n",
          f);
}

int ifs_cmd_join(int argc, char **argv)
{
    enum { O_VARIANT = 256, O_FIELD, O_SREC };
    static const struct option opts[] = {
        {"out", required_argument, 0, 'o'},
        {"model", required_argument, 0, 'm'},
        {"variant", required_argument, 0, O_VARIANT},
        {"output-field", required_argument, 0, O_FIELD},
        {"shard-records", required_argument, 0, O_SREC},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    ifs_ds_join_opts jo = {0};
    ifs_ds_sink_opts so = {0};
    const char *out = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "o:m:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': out = optarg; break;
        case 'm': jo.model = optarg; break;
        case O_VARIANT: jo.variant = optarg; break;
        case O_FIELD: jo.output_field = optarg; break;
        case O_SREC:
            if (ifs_ds_parse_size(optarg, &so.max_records) || !so.max_records) {
                fprintf(stderr, "ifscore join: --shard-records wants N > 0\n");
                return IFS_EXIT_USAGE;
            }
            break;
        case 'h': usage(stdout); return IFS_EXIT_OK;
        default: usage(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (argc - optind < 2 || !out) {
        fprintf(stderr, "ifscore join: needs INSTRUCTIONS, GENERATIONS... and --out DIR\n");
        return IFS_EXIT_USAGE;
    }
    ifs_ds_join_result r;
    char err[512] = "";
    int rc = ifs_ds_join(&jo, argv[optind], argv + optind + 1, argc - optind - 1, out, &so, &r, err,
                         sizeof err);
    if (rc)
        fprintf(stderr, "ifscore join: %s\n", err);
    fprintf(stderr,
            "join: %llu instructions, %llu generations joined; %llu unknown id, %llu duplicate, "
            "%llu without output, %llu without model; %llu instructions got no generation; "
            "%llu generation lines rejected; instruction set: %llu without id/instruction, "
            "%llu bad instruction_type, %llu duplicate ids\n",
            (unsigned long long)r.instructions, (unsigned long long)r.joined,
            (unsigned long long)r.unknown_id, (unsigned long long)r.duplicate,
            (unsigned long long)r.no_output, (unsigned long long)r.no_model,
            (unsigned long long)r.without_generation, (unsigned long long)r.rejected_lines,
            (unsigned long long)r.instr_no_fields, (unsigned long long)r.instr_bad_type,
            (unsigned long long)r.instr_dup_id);
    if (rc)
        return IFS_EXIT_FAIL;
    if (r.unknown_id || r.duplicate || r.no_output || r.no_model || r.without_generation ||
        r.rejected_lines || r.instr_rejected || r.instr_no_fields || r.instr_bad_type ||
        r.instr_dup_id)
        return IFS_EXIT_DATA;
    return IFS_EXIT_OK;
}
