/*
 * cli.c - what every subcommand shares (ifs_cli.h).
 */
#include <stdarg.h>
#include <stdio.h>

#include "ifs_cli.h"

int ifs_cli_fail(const char *cmd, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ifscore %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return code;
}
