/*
 * gen_fixture.h - running `ifscore gen-model` from the weights tests.
 * Tests only.
 */
#ifndef GEN_FIXTURE_H
#define GEN_FIXTURE_H

#include <sys/wait.h>
#include <unistd.h>

#include "wts_fixture.h"

/* Runs "$IFS_BIN gen-model <args>" quietly; returns its exit code (-1 if it
 * could not run). */
static inline int gen_run(const char *args)
{
    static char cmd[16384];
    snprintf(cmd, sizeof cmd, "'%s' gen-model %s >/dev/null 2>&1",
             ifs_test_env("IFS_BIN", "ifscore"), args);
    int st = system(cmd);
    return st == -1 || !WIFEXITED(st) ? -1 : WEXITSTATUS(st);
}

static inline void gen_need_binary(void)
{
    const char *bin = ifs_test_env("IFS_BIN", NULL);
    if (!bin || access(bin, X_OK) != 0)
        IFS_SKIP("no ifscore binary ($IFS_BIN unset or not executable)");
}

static inline int gen_files_equal(const char *a, const char *b)
{
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int eq = fa && fb;
    while (eq) {
        int x = fgetc(fa), y = fgetc(fb);
        if (x != y)
            eq = 0;
        if (x == EOF || y == EOF)
            break;
    }
    if (fa)
        fclose(fa);
    if (fb)
        fclose(fb);
    return eq;
}

#endif
