/*
 * fuzz_import.c - the importers' untrusted-bytes path: the streaming JSON
 * array / JSONL splitter fed in chunks of fuzzer-chosen sizes (zero included),
 * every element through one importer's checks and field mapping, into a
 * sink that only counts. The first byte picks the format and the chunking.
 * Invariant checked on every input: each element is imported, merged or
 * skipped exactly once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ds_internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    ifs_ds_format fmt = (ifs_ds_format)(data[0] % IFS_DS_FMT_COUNT);
    unsigned chunk_seed = data[1];
    data += 2;
    size -= 2;
    char err[512];
    ifs_ds_import_opts o = {
        .format = fmt, .max_elem = 4096, .langs = (chunk_seed & 1) ? "en" : NULL};
    ifs_ds_sink_opts so = {.dry_run = 1};
    ds_importer *im = ds_importer_create(&o, err, sizeof err);
    ds_sink *sink = ds_sink_open(NULL, &so, err, sizeof err);
    ifs_ds_jsplit *js = ifs_ds_jsplit_create(4096);
    if (!im || !sink || !js)
        abort();
    size_t pos = 0, step = 0;
    ifs_ds_elem e;
    int dead = 0;
    while (pos <= size && !dead) {
        /* 0..8 bytes, zero-sized chunks included (the step count moves the
         * pattern on, so a zero chunk is never repeated forever) */
        size_t chunk = (chunk_seed * 7u + step++) % 9;
        if (chunk > size - pos)
            chunk = size - pos;
        const char *p = (const char *)data + pos;
        size_t left = chunk;
        int fin = pos == size;
        for (;;) {
            size_t used = 0;
            int rc =
                fin ? ifs_ds_jsplit_finish(js, &e) : ifs_ds_jsplit_feed(js, p, left, &used, &e);
            if (used > left)
                abort();
            p += used;
            left -= used;
            if (rc == IFS_DS_ELEM || rc == IFS_DS_ETOOBIG) {
                if ((rc == IFS_DS_ELEM) != (e.data != NULL) || (e.data && e.len > 4096))
                    abort();
                if (ds_import_element(im, "fuzz", &e, sink, err, sizeof err))
                    abort(); /* only sink failures are errors, and this sink cannot fail */
                continue;
            }
            if (rc < 0)
                dead = 1;
            break;
        }
        if (fin)
            break;
        pos += chunk;
    }
    if (ds_import_end(im, sink, err, sizeof err))
        abort();
    const ifs_ds_import_stats *st = ds_importer_stats(im);
    uint64_t skipped = 0;
    for (int i = 0; i < IFS_DS_SKIP__COUNT; i++)
        skipped += st->skipped[i];
    if (st->elements != st->records + st->merged + skipped || st->records != ds_sink_records(sink))
        abort();
    ifs_ds_jsplit_free(js);
    ds_sink_free(sink);
    ds_importer_free(im);
    return 0;
}
