/*
 * cpu_pool.h - private: a tiny fork-join thread pool for the CPU backend.
 *
 *     ifs_cpu_pool *p = ifs_cpu_pool_create(4);      // caller + 3 workers
 *     ifs_cpu_pool_run(p, n_tasks, fn, ctx);         // returns when all done
 *     ifs_cpu_pool_free(p);
 *
 * fn(ctx, task, thread) runs once per task in [0, n_tasks), on some thread
 * in [0, n_threads); the calling thread works too. Tasks are handed out in
 * order from a shared counter, so which thread runs a task varies, but what a
 * task computes must not depend on `thread` other than for per-thread scratch
 * (this is what keeps results independent of the thread count).
 * One caller at a time per pool. ifs_cpu_pool_free accepts NULL.
 */
#ifndef IFS_CPU_POOL_H
#define IFS_CPU_POOL_H

typedef struct ifs_cpu_pool ifs_cpu_pool;
typedef void (*ifs_cpu_task_fn)(void *ctx, int task, int thread);

/* Returns NULL when threads or memory cannot be had. */
ifs_cpu_pool *ifs_cpu_pool_create(int n_threads);
int ifs_cpu_pool_threads(const ifs_cpu_pool *p);
void ifs_cpu_pool_run(ifs_cpu_pool *p, int n_tasks, ifs_cpu_task_fn fn, void *ctx);
void ifs_cpu_pool_free(ifs_cpu_pool *p);

#endif
