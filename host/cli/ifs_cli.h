/*
 * ifs_cli.h - the subcommands of the `ifscore` binary.
 *
 * Each subcommand is `int ifs_cmd_<name>(int argc, char **argv)` with argv[0]
 * the subcommand's name; it parses its own options (getopt_long), prints
 * `--help`, and returns an exit code from the list below. Only main() and
 * these functions turn statuses into exit codes; libraries never exit.
 *
 * To add a subcommand: implement it in its own file in host/cli/ and add a
 * line to host/cli/commands.def (which declares it here and lists it in
 * main.c's table). This folder is the only place allowed to include this
 * header: it is the command line's, above every library.
 */
#ifndef IFS_CLI_H
#define IFS_CLI_H

/* Exit codes, the same for every subcommand (documented in README). */
enum {
    IFS_EXIT_OK = 0,            /* success (rejected records are not a failure) */
    IFS_EXIT_FAIL = 1,          /* runtime failure: unreadable input, bad model, device error */
    IFS_EXIT_USAGE = 2,         /* bad command line */
    IFS_EXIT_DATA = 3,          /* finished, but data checks failed (e.g. counts do not add up,
                                 verify found a mismatch, --fail-on-reject) */
    IFS_EXIT_REGRESSION = 4,    /* compare: the candidate regressed (or, with
                                 --require-same-groups, the groups differ): the
                                 nightly gate fails; docs/compare.md */
    IFS_EXIT_INTERRUPTED = 130, /* stopped by SIGINT/SIGTERM; state left resumable */
};

/* Prints "ifscore <cmd>: <message>\n" on stderr and returns code: a
 * command's one way to fail, `return ifs_cli_fail("score", IFS_EXIT_USAGE,
 * "--threads wants 1..256");`. */
int ifs_cli_fail(const char *cmd, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

#define IFS_CLI_COMMAND(name, summary) int ifs_cmd_##name(int argc, char **argv);
#include "commands.def"
#undef IFS_CLI_COMMAND

#endif
