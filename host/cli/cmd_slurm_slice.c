/*
 * cmd_slurm_slice.c - `ifscore slurm-slice`: prints the slice I/N that this
 * Slurm array task scores, from SLURM_ARRAY_* (ifs_slurm_slice), so that a
 * job script can name its outputs after the slice and pass --slice itself
 * with the one mapping `score` uses (examples/slurm/score-array.sbatch).
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "ifs_cli.h"
#include "ifs_slurm.h"

static void usage(FILE *f)
{
    fputs("usage: ifscore slurm-slice\n"
          "\n"
          "Prints I/N, the slice of the sorted shard list this Slurm array task scores\n"
          "(`ifscore score --slice I/N`): I = (SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN)\n"
          "/ SLURM_ARRAY_TASK_STEP and N = SLURM_ARRAY_TASK_COUNT. Arrays whose indexes\n"
          "are not one range with one step (lists such as --array=1,3,7) are refused.\n"
          "\n"
          "Exit: 0 and I/N on stdout; 2 outside an array task, or when the array's\n"
          "variables do not make slices 0..N-1 (stderr says which and what to do).\n",
          f);
}

int ifs_cmd_slurm_slice(int argc, char **argv)
{
    static const struct option opts[] = {
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            usage(stdout);
            return IFS_EXIT_OK;
        }
        usage(stderr);
        return IFS_EXIT_USAGE;
    }
    if (optind < argc) {
        usage(stderr);
        return IFS_EXIT_USAGE;
    }
    int32_t index, count;
    char err[768];
    if (ifs_slurm_slice(ifs_slurm_getenv, NULL, &index, &count, err, sizeof err)) {
        fprintf(stderr, "ifscore slurm-slice: %s\n", err);
        return IFS_EXIT_USAGE;
    }
    printf("%d/%d\n", (int)index, (int)count);
    return fflush(stdout) ? IFS_EXIT_FAIL : IFS_EXIT_OK;
}
