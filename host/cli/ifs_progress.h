/*
 * ifs_progress.h - the progress line of `ifscore score` on stderr: records/s,
 * tokens/s, shards done, ETA when the input's size is known.
 *
 * Usage:
 *
 *     ifs_progress *p = ifs_progress_start(stderr, IFS_PROGRESS_AUTO, 1.0, fill, ctx);
 *     ... run; fill(ctx, &snap) is called from the progress thread ...
 *     ifs_progress_stop(p);     // prints the last line, joins the thread
 *
 * Modes: AUTO shows a line redrawn in place ("\r") when the stream is a
 * terminal and nothing otherwise (logs of batch jobs stay clean); ON forces
 * it, as whole lines when the stream is not a terminal (one per interval,
 * 10 s minimum so logs stay short); OFF prints nothing and starts no thread.
 *
 * Rates are over the last interval; the ETA uses the average rate of input
 * bytes consumed since the start (compressed bytes, the only size known
 * before reading) and is left out when the total size is unknown (stdin,
 * FIFOs) or nothing has been read yet.
 *
 * Threads: fill is called from the progress thread only, and must be safe
 * to run concurrently with the pipeline (read counters under their lock or
 * atomically). ifs_progress_stop accepts NULL. Nothing here exits.
 */
#ifndef IFS_PROGRESS_H
#define IFS_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum { IFS_PROGRESS_OFF = 0, IFS_PROGRESS_AUTO = 1, IFS_PROGRESS_ON = 2 } ifs_progress_mode;

typedef struct {
    uint64_t records; /* delivered (scored + rejected) */
    uint64_t rejected;
    uint64_t tokens; /* run through the model */
    uint64_t shards_done, shards_total;
    uint64_t bytes_done, bytes_total; /* input bytes consumed / known total (0 = unknown) */
} ifs_progress_snap;

typedef void (*ifs_progress_fill)(void *ctx, ifs_progress_snap *snap);

typedef struct ifs_progress ifs_progress;

/* Starts the progress thread (or nothing, for OFF / AUTO without a
 * terminal: then returns NULL, which every function accepts). */
ifs_progress *ifs_progress_start(FILE *f, ifs_progress_mode mode, double interval_s,
                                 ifs_progress_fill fill, void *ctx);
/* Prints a final line (ending in '\n'), stops and frees. NULL ok. */
void ifs_progress_stop(ifs_progress *p);

/* Formats one line (no '\r', no '\n') from two snapshots dt seconds apart
 * and the time since the start. Returns the length snprintf would write. */
int ifs_progress_format(char *buf, size_t cap, const ifs_progress_snap *now,
                        const ifs_progress_snap *prev, double dt, double elapsed);

#ifdef __cplusplus
}
#endif
#endif /* IFS_PROGRESS_H */
