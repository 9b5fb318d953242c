/*
 * cmd_attach_head.c - `ifscore attach-head`: join a head folder written by
 * `train-head --head-out` with its encoder into a complete checkpoint (what
 * scripts/setup.sh does for the default classifier). The reading and
 * writing are ifs_train_net_read_head / ifs_train_net_write_checkpoint (ifs_train.h),
 * the same writer train-head uses, so the result is byte for byte the
 * checkpoint train-head wrote.
 */
#include <getopt.h>
#include <stdio.h>

#include "ifs_cli.h"
#include "ifs_train.h"
#include "ifs_wts.h"

static void usage_attach(FILE *f)
{
    fprintf(f, "usage: ifscore attach-head --encoder DIR --head DIR --out DIR\n\n"
               "Join a head written by 'train-head --head-out' (head.safetensors, config.json,\n"
               "tokenizer_config.json) with its encoder into a complete checkpoint that\n"
               "ifscore and HF transformers load. When head.safetensors holds the top N encoder\n"
               "layers (train-head --train-layers N), they replace the encoder's own; the\n"
               "head's input mode (pairs or the response alone) is kept.\n"
               "The head's config must match the encoder's\n"
               "shape; train_report.json names the encoder fingerprint it was trained on.\n");
}

int ifs_cmd_attach_head(int argc, char **argv)
{
    const char *enc_dir = NULL, *head_dir = NULL, *out = NULL;
    static const struct option lo[] = {
        {"encoder", required_argument, 0, 'e'},
        {"head", required_argument, 0, 'H'},
        {"out", required_argument, 0, 'o'},
        {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0},
    };
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (c) {
        case 'e': enc_dir = optarg; break;
        case 'H': head_dir = optarg; break;
        case 'o': out = optarg; break;
        case 'h': usage_attach(stdout); return IFS_EXIT_OK;
        default: usage_attach(stderr); return IFS_EXIT_USAGE;
        }
    }
    if (!enc_dir || !head_dir || !out || optind != argc) {
        usage_attach(stderr);
        return IFS_EXIT_USAGE;
    }
    char err[1024];
    ifs_wts_model *m = ifs_wts_load(enc_dir, IFS_WTS_ENCODER_ONLY, err, sizeof err);
    if (!m)
        return ifs_cli_fail("attach-head", IFS_EXIT_FAIL, "%s", err);
    const ifs_bert_weights *enc = ifs_wts_weights(m);
    ifs_train_net t;
    ifs_train_input in;
    int max_len = 0;
    int rc = ifs_train_net_read_head(head_dir, enc, &t, &in, &max_len, err, sizeof err);
    if (rc == 0)
        rc = ifs_train_net_write_checkpoint(out, enc_dir, enc, &t, &in, max_len, err, sizeof err);
    ifs_train_net_free(&t);
    ifs_wts_free(m);
    return rc ? ifs_cli_fail("attach-head", IFS_EXIT_FAIL, "%s", err) : IFS_EXIT_OK;
}
