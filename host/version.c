/*
 * version.c - the build's identity (ifs_version.h). IFS_GIT_COMMIT comes from
 * the header scripts/git_commit.cmake writes into the build tree at every
 * build, so this file alone recompiles when the commit changes.
 */
#include "ifs_version.h"

#include "ifs_commit.h"

#ifndef IFS_VERSION
#define IFS_VERSION "0.0.0"
#endif
#ifndef IFS_GIT_COMMIT
#define IFS_GIT_COMMIT "unknown"
#endif

const char *ifs_version(void)
{
#ifdef IFS_HAVE_CUDA
    return IFS_VERSION " (commit " IFS_GIT_COMMIT ", cuda on)";
#else
    return IFS_VERSION " (commit " IFS_GIT_COMMIT ", cuda off)";
#endif
}

const char *ifs_version_release(void)
{
    return IFS_VERSION;
}

const char *ifs_version_commit(void)
{
    return IFS_GIT_COMMIT;
}
