/*
 * cpu_pool.c - fork-join pool (see cpu_pool.h). Workers sleep on a condition
 * variable between jobs; a job is published by bumping a generation number.
 * Tasks are claimed with an atomic counter, so uneven tasks (attention over
 * sequences of different lengths) balance themselves.
 */
#include "cpu_pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

struct ifs_cpu_pool {
    int n; /* threads including the caller */
    pthread_t *th;
    int started; /* workers actually running */
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long gen; /* bumped per job, under mu */
    int busy;          /* workers still in the current job, under mu */
    int quit;
    ifs_cpu_task_fn fn;
    void *ctx;
    int n_tasks;
    atomic_int next;
};

typedef struct {
    ifs_cpu_pool *p;
    int id;
} worker_arg;

static void drain(ifs_cpu_pool *p, int thread)
{
    for (;;) {
        int t = atomic_fetch_add(&p->next, 1);
        if (t >= p->n_tasks)
            break;
        p->fn(p->ctx, t, thread);
    }
}

static void *worker(void *arg)
{
    worker_arg *a = arg;
    ifs_cpu_pool *p = a->p;
    int id = a->id;
    free(a);
    unsigned long seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->quit && p->gen == seen)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->quit)
            break;
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        drain(p, id);
        pthread_mutex_lock(&p->mu);
        if (--p->busy == 0)
            pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

ifs_cpu_pool *ifs_cpu_pool_create(int n_threads)
{
    if (n_threads < 1)
        n_threads = 1;
    ifs_cpu_pool *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->n = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->next, 0);
    if (n_threads > 1) {
        p->th = calloc((size_t)n_threads - 1, sizeof *p->th);
        if (!p->th) {
            ifs_cpu_pool_free(p);
            return NULL;
        }
        for (int i = 1; i < n_threads; i++) {
            worker_arg *a = malloc(sizeof *a);
            if (!a) {
                ifs_cpu_pool_free(p);
                return NULL;
            }
            a->p = p;
            a->id = i;
            if (pthread_create(&p->th[i - 1], NULL, worker, a)) {
                free(a);
                ifs_cpu_pool_free(p);
                return NULL;
            }
            p->started++;
        }
    }
    return p;
}

int ifs_cpu_pool_threads(const ifs_cpu_pool *p)
{
    return p->n;
}

void ifs_cpu_pool_run(ifs_cpu_pool *p, int n_tasks, ifs_cpu_task_fn fn, void *ctx)
{
    if (n_tasks <= 0)
        return;
    if (p->n == 1 || n_tasks == 1) {
        for (int t = 0; t < n_tasks; t++)
            fn(ctx, t, 0);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n_tasks = n_tasks;
    atomic_store(&p->next, 0);
    p->busy = p->started;
    p->gen++;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    drain(p, 0);
    pthread_mutex_lock(&p->mu);
    while (p->busy > 0)
        pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void ifs_cpu_pool_free(ifs_cpu_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->quit = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->started; i++)
        pthread_join(p->th[i], NULL);
    free(p->th);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    free(p);
}
