/*
 * records.c - reading ifscore shards for the builders, prompts, join and pack:
 * host's shard reader for the bytes and lines (bounded memory, zstd traps
 * handled there), then the same whole-line checks as host's record parser
 * (UTF-8, NUL, JSON object) before a cJSON tree reaches the caller. Lines
 * that fail are counted under host's reject reasons, never dropped silently.
 */
#include <stdio.h>
#include <string.h>

#include "ds_internal.h"
#include "ifs_io.h"
#include "ifs_record.h"
#include "ifs_shard.h"
#include "ifs_utf8.h"

const char *ds_get_str(const cJSON *obj, const char *key, size_t *len)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
    if (!cJSON_IsString(v) || !v->valuestring)
        return NULL;
    if (len)
        *len = strlen(v->valuestring);
    return v->valuestring;
}

static void reject(ds_read_stats *st, ifs_reject_reason r)
{
    st->rejected[(unsigned)r < 32 ? (unsigned)r : 0]++;
    st->rejected_total++;
}

int ds_read_records(char *const *args, int nargs, ds_record_fn fn, void *user, ds_read_stats *st,
                    char *err, size_t errlen)
{
    ifs_input_list in;
    if (ifs_io_list_inputs((const char *const *)args, (size_t)nargs, &in, err, errlen))
        return IFS_DS_EIO;
    ifs_shard_opts so = {.max_line_bytes = (size_t)64 << 20};
    int rc = 0;
    for (size_t i = 0; i < in.n && !rc; i++) {
        ifs_shard_reader *r;
        if (ifs_shard_open(in.files[i].path, &so, &r, err, errlen)) {
            rc = IFS_DS_EIO;
            break;
        }
        ifs_shard_line ln;
        int nr;
        while (!rc && (nr = ifs_shard_next(r, &ln)) == IFS_SHARD_LINE) {
            st->lines++;
            if (ln.reason != IFS_REJECT_NONE) {
                reject(st, ln.reason);
                continue;
            }
            size_t k = 0;
            while (k < ln.len && (ln.data[k] == ' ' || ln.data[k] == '\t'))
                k++;
            if (k == ln.len) {
                reject(st, IFS_REJECT_EMPTY_LINE);
                continue;
            }
            if (ifs_utf8_check(ln.data, ln.len) != ln.len) {
                reject(st, IFS_REJECT_INVALID_UTF8);
                continue;
            }
            if (ds_has_nul(ln.data, ln.len)) {
                reject(st, IFS_REJECT_NUL_IN_TEXT);
                continue;
            }
            cJSON *obj = cJSON_ParseWithLength(ln.data, ln.len);
            if (!obj || !cJSON_IsObject(obj)) {
                reject(st, obj ? IFS_REJECT_NOT_OBJECT : IFS_REJECT_INVALID_JSON);
                cJSON_Delete(obj);
                continue;
            }
            st->objects++;
            rc = fn(obj, ln.data, ln.len, in.files[i].path, ln.line_no, user);
            cJSON_Delete(obj);
        }
        ifs_shard_stats ss;
        ifs_shard_get_stats(r, &ss);
        if (ss.status != IFS_SHARD_OK)
            st->stream_errors++;
        ifs_shard_free(r);
    }
    ifs_input_list_free(&in);
    return rc;
}

void ds_read_stats_json(const ds_read_stats *st, ds_buf *b)
{
    ds_buf_printf(b,
                  "\"read\":{\"lines\":%llu,\"records\":%llu,\"stream_errors\":%llu,"
                  "\"rejected\":{",
                  (unsigned long long)st->lines, (unsigned long long)st->objects,
                  (unsigned long long)st->stream_errors);
    int first = 1;
    for (int i = 0; i < 32; i++) {
        if (!st->rejected[i])
            continue;
        ds_buf_printf(b, "%s\"%s\":%llu", first ? "" : ",", ifs_reject_name((ifs_reject_reason)i),
                      (unsigned long long)st->rejected[i]);
        first = 0;
    }
    ds_buf_puts(b, "}}");
}
