/*
 * ifs_version.h - what this build of ifscore is: the release version, the
 * git commit it was built from (recorded at build time by
 * scripts/git_commit.cmake, "-dirty" when the tree had uncommitted changes)
 * and whether the CUDA backend is compiled in.
 *
 *     printf("ifscore %s\n", ifs_version());   // 0.1.0 (commit 1a2b3c4d5e6f, cuda on)
 *
 * Every string is static storage; nothing here allocates, prints or fails.
 */
#ifndef IFS_VERSION_H
#define IFS_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

/* "0.1.0 (commit <12 hex>[-dirty], cuda on|off)". */
const char *ifs_version(void);

/* The release version alone, "0.1.0". */
const char *ifs_version_release(void);

/* The commit alone: 12 hex digits, "-dirty" appended for a modified tree,
 * or "unknown" outside a git checkout. */
const char *ifs_version_commit(void);

#ifdef __cplusplus
}
#endif
#endif /* IFS_VERSION_H */
