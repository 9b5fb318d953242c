/*
 * main.c - the `ifscore` binary: dispatches to a subcommand. Every
 * subcommand lives in its own file and is listed in commands.def.
 */
#include <stdio.h>
#include <string.h>

#include "ifs_cli.h"
#include "ifs_version.h"

typedef struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} command;

static const command commands[] = {
#define IFS_CLI_COMMAND(name, summary) {#name, ifs_cmd_##name, summary},
#include "commands.def"
#undef IFS_CLI_COMMAND
};

/* Table names are C identifiers (train_head); users type train-head. */
static int name_is(const char *table, const char *arg)
{
    for (; *table && *arg; table++, arg++)
        if (*table != *arg && !(*table == '_' && *arg == '-'))
            return 0;
    return *table == *arg;
}

static void print_name(FILE *f, const char *name)
{
    int n = 0;
    for (; *name; name++, n++)
        fputc(*name == '_' ? '-' : *name, f);
    fprintf(f, "%*s", 16 - n > 1 ? 16 - n : 1, "");
}

static void usage(FILE *f)
{
    fprintf(f, "usage: ifscore <command> [options]\n"
               "       ifscore --version | --help\n\n"
               "Instruction-following score (IFS) batch scoring with BERT classifiers.\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        fputs("  ", f);
        print_name(f, commands[i].name);
        fprintf(f, "%s\n", commands[i].summary);
    }
    fprintf(f, "\nRun 'ifscore <command> --help' for a command's options.\n"
               "Exit codes: 0 ok, 1 failure, 2 usage error, 3 data check failed, 4 regression "
               "found (compare), "
               "130 interrupted (resumable).\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return IFS_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return IFS_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("ifscore %s\n", ifs_version());
        return IFS_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (name_is(commands[i].name, argv[1]))
            return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "ifscore: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return IFS_EXIT_USAGE;
}
