/*
 * progress.c - a thread that redraws the progress line (see ifs_progress.h).
 * It sleeps on a condition variable, so stop wakes it at once instead of
 * waiting out the interval.
 */
#include "ifs_progress.h"
#include "ifs_time.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct ifs_progress {
    FILE *f;
    int tty;
    double interval;
    ifs_progress_fill fill;
    void *ctx;
    pthread_t th;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;
    double t0;
    ifs_progress_snap prev;
    double t_prev;
    int last_len;
};

static void human(char *buf, size_t cap, double v)
{
    if (v >= 1e9)
        snprintf(buf, cap, "%.2fG", v / 1e9);
    else if (v >= 1e6)
        snprintf(buf, cap, "%.2fM", v / 1e6);
    else if (v >= 1e4)
        snprintf(buf, cap, "%.1fk", v / 1e3);
    else
        snprintf(buf, cap, "%.0f", v);
}

static void hms(char *buf, size_t cap, double s)
{
    if (s < 0)
        s = 0;
    unsigned long t = (unsigned long)(s + 0.5);
    snprintf(buf, cap, "%lu:%02lu:%02lu", t / 3600, (t / 60) % 60, t % 60);
}

int ifs_progress_format(char *buf, size_t cap, const ifs_progress_snap *now,
                        const ifs_progress_snap *prev, double dt, double elapsed)
{
    char rec[32], rps[32], tps[32], el[32], eta[48] = "";
    human(rec, sizeof rec, (double)now->records);
    double r = dt > 0 ? (double)(now->records - prev->records) / dt : 0;
    double t = dt > 0 ? (double)(now->tokens - prev->tokens) / dt : 0;
    human(rps, sizeof rps, r);
    human(tps, sizeof tps, t);
    hms(el, sizeof el, elapsed);
    if (now->bytes_total > 0 && now->bytes_done > 0 && elapsed > 0) {
        double frac = (double)now->bytes_done / (double)now->bytes_total;
        if (frac > 1)
            frac = 1;
        double left = elapsed / frac - elapsed;
        char e[32];
        hms(e, sizeof e, left);
        snprintf(eta, sizeof eta, " %5.1f%% ETA %s", frac * 100, e);
    }
    return snprintf(buf, cap,
                    "[%s] shards %llu/%llu  records %s (%llu rejected)  %s rec/s  %s tok/s%s", el,
                    (unsigned long long)now->shards_done, (unsigned long long)now->shards_total,
                    rec, (unsigned long long)now->rejected, rps, tps, eta);
}

static void draw(ifs_progress *p, int final)
{
    ifs_progress_snap s;
    memset(&s, 0, sizeof s);
    p->fill(p->ctx, &s);
    double now = ifs_time_now();
    char line[256];
    /* The final line reports the whole run's average rates. */
    ifs_progress_snap zero;
    memset(&zero, 0, sizeof zero);
    int n =
        final ? ifs_progress_format(line, sizeof line, &s, &zero, now - p->t0, now - p->t0)
              : ifs_progress_format(line, sizeof line, &s, &p->prev, now - p->t_prev, now - p->t0);
    if (n < 0)
        return;
    if (n >= (int)sizeof line)
        n = (int)sizeof line - 1;
    if (p->tty) {
        int pad = p->last_len > n ? p->last_len - n : 0;
        fprintf(p->f, "\r%s%*s%s", line, pad, "", final ? "\n" : "");
        p->last_len = n;
    } else {
        fprintf(p->f, "%s\n", line);
    }
    fflush(p->f);
    p->prev = s;
    p->t_prev = now;
}

static void *progress_main(void *arg)
{
    ifs_progress *p = arg;
    pthread_mutex_lock(&p->mu);
    while (!p->stop) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        double until = ts.tv_sec + ts.tv_nsec * 1e-9 + p->interval;
        ts.tv_sec = (time_t)until;
        ts.tv_nsec = (long)((until - (double)ts.tv_sec) * 1e9);
        int rc = 0;
        while (!p->stop && rc != ETIMEDOUT)
            rc = pthread_cond_timedwait(&p->cv, &p->mu, &ts);
        if (p->stop)
            break;
        pthread_mutex_unlock(&p->mu);
        draw(p, 0);
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

ifs_progress *ifs_progress_start(FILE *f, ifs_progress_mode mode, double interval_s,
                                 ifs_progress_fill fill, void *ctx)
{
    if (mode == IFS_PROGRESS_OFF || !f || !fill)
        return NULL;
    int tty = isatty(fileno(f));
    if (mode == IFS_PROGRESS_AUTO && !tty)
        return NULL;
    ifs_progress *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    p->f = f;
    p->tty = tty;
    p->interval = interval_s > 0 ? interval_s : 1.0;
    if (!tty && p->interval < 10)
        p->interval = 10;
    p->fill = fill;
    p->ctx = ctx;
    p->t0 = p->t_prev = ifs_time_now();
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (pthread_create(&p->th, NULL, progress_main, p) != 0) {
        pthread_cond_destroy(&p->cv);
        pthread_mutex_destroy(&p->mu);
        free(p);
        return NULL;
    }
    return p;
}

void ifs_progress_stop(ifs_progress *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->th, NULL);
    draw(p, 1);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    free(p);
}
