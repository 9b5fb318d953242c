/*
 * test_import.c - every importer on small files this test writes: the exact
 * records it produces, the skip reasons it counts, and the accounting
 * (elements == records + merged + skipped). Inputs go through the real file
 * path: written to IFS_TEST_TMP, some zstd-compressed, read back by the
 * importer, records read back through host's shard reader.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>
#include <zstd.h>

#include "ds_internal.h"
#include "ifs_shard.h"
#include "ifs_test.h"

static char tmpdir[512];

typedef struct {
    const char *name;
    ifs_ds_format format;
    const char *file; /* input file name (".zst" is compressed by the test) */
    const char *input;
    const char *model, *langs, *map_instruction, *map_response, *map_id;
    const char *want;  /* output lines, each ending in '\n' */
    const char *skips; /* "reason=n,..." in ifs_ds_skip order, "" for none */
    uint64_t merged;
    int file_status;                                /* ds_import_file's return */
    const char *isrc, *map_source, *map_transcript; /* --instruction-source, --map */
} import_case;

#define R0 "\"source_index\":0"

static const import_case cases[] = {
    {"alpaca_eval_maps_generator_to_model_and_index_to_id", IFS_DS_FMT_ALPACA_EVAL,
     "gen-a.json.zst",
     "[\n {\"instruction\": \"Say hi\", \"output\": \"Hi!\", \"generator\": \"gen-a\","
     " \"dataset\": \"helpful_base\", \"extra\": [1, {\"x\": 2}]},\n"
     " {\"instruction\": \"Caf\\u00e9?\", \"output\": \"\", \"generator\": \"gen-a\"}\n]",
     NULL, NULL, NULL, NULL, NULL,
     "{\"id\":\"gen-a/0\",\"model\":\"gen-a\",\"instruction\":\"Say hi\",\"instruction_type\":"
     "\"full\",\"response\":\"Hi!\",\"source\":\"gen-a\"," R0 ",\"instruction_source\":"
     "\"alpaca_eval:helpful_base\",\"dataset\":\"helpful_base\"}\n"
     "{\"id\":\"gen-a/1\",\"model\":\"gen-a\",\"instruction\":\"Café?\",\"instruction_type\":"
     "\"full\",\"response\":\"\",\"source\":\"gen-a\",\"source_index\":1,"
     "\"instruction_source\":\"alpaca_eval\"}\n",
     "", 0, 0, NULL, NULL, NULL},
    {"alpaca_eval_counts_each_bad_element_and_goes_on", IFS_DS_FMT_ALPACA_EVAL, "gen-b.json",
     "[{\"output\": \"o\", \"generator\": \"g\"}, {\"instruction\": \"i\", \"generator\": \"g\"},"
     " {\"instruction\": 5, \"output\": \"o\", \"generator\": \"g\"}, 7, {\"instruction\":\"i\","
     " \"output\": \"o\"}, {\"instruction\": \"a\\u0000b\", \"output\": \"o\", \"generator\": "
     "\"g\"},"
     " {\"instruction\": \"\xff\", \"output\": \"o\", \"generator\": \"g\"}, {\"bad\" 1},"
     " {\"instruction\": \"ok\", \"output\": \"fine\", \"generator\": \"g\"}]",
     NULL, NULL, NULL, NULL, NULL,
     "{\"id\":\"g/8\",\"model\":\"g\",\"instruction\":\"ok\",\"instruction_type\":\"full\","
     "\"response\":\"fine\",\"source\":\"gen-b\",\"source_index\":8,"
     "\"instruction_source\":\"alpaca_eval\"}\n",
     "invalid_json=1,not_object=1,invalid_utf8=1,nul_in_text=1,missing_instruction=1,"
     "missing_response=1,missing_model=1,not_string=1",
     0, 0, NULL, NULL, NULL},
    {"truncated_array_keeps_what_came_before_and_reports_the_file", IFS_DS_FMT_ALPACA_EVAL,
     "gen-c.json", "[{\"instruction\": \"i\", \"output\": \"o\", \"generator\": \"g\"}, {\"instr",
     NULL, NULL, NULL, NULL, NULL,
     "{\"id\":\"g/0\",\"model\":\"g\",\"instruction\":\"i\",\"instruction_type\":\"full\","
     "\"response\":\"o\",\"source\":\"gen-c\"," R0 ",\"instruction_source\":\"alpaca_eval\"}\n",
     "", 0, IFS_DS_ETRUNC, NULL, NULL, NULL},
    {"alpaca_appends_a_nonempty_input_after_a_blank_line", IFS_DS_FMT_ALPACA, "alp.json",
     "[{\"instruction\": \"Translate\", \"input\": \"chat\", \"output\": \"cat\"},"
     " {\"instruction\": \"Name a color\", \"input\": \"\", \"output\": \"red\"}]",
     "text-davinci-003", NULL, NULL, NULL, NULL,
     "{\"id\":\"alp/0\",\"model\":\"text-davinci-003\",\"instruction\":\"Translate\\n\\nchat\","
     "\"instruction_type\":\"full\",\"response\":\"cat\",\"source\":\"alp\"," R0 ","
     "\"instruction_source\":\"alp\"}\n"
     "{\"id\":\"alp/1\",\"model\":\"text-davinci-003\",\"instruction\":\"Name a color\","
     "\"instruction_type\":\"full\",\"response\":\"red\",\"source\":\"alp\",\"source_index\":1,"
     "\"instruction_source\":\"alp\"}\n",
     "", 0, 0, NULL, NULL, NULL},
    {"sharegpt_takes_the_first_human_turn_after_system_and_its_reply", IFS_DS_FMT_SHAREGPT,
     "sg.jsonl",
     "{\"id\": \"c1\", \"conversations\": [{\"from\": \"system\", \"value\": \"be nice\"},"
     " {\"from\": \"human\", \"value\": \"Q1\"}, {\"from\": \"gpt\", \"value\": \"A1\"},"
     " {\"from\": \"human\", \"value\": \"Q2\"}]}\n"
     "{\"id\": 42, \"messages\": [{\"role\": \"user\", \"content\": \"Q\"},"
     " {\"role\": \"assistant\", \"content\": \"A\"}], \"model\": \"m\"}\n"
     "{\"id\": \"c3\", \"conversations\": [{\"from\": \"gpt\", \"value\": \"hello\"}]}\n"
     "{\"id\": \"c4\", \"conversations\": [{\"from\": \"human\", \"value\": \"alone\"}]}\n",
     NULL, NULL, NULL, NULL, NULL,
     "{\"id\":\"c1\",\"model\":\"sg\",\"instruction\":\"Q1\",\"instruction_type\":\"full\","
     "\"response\":\"A1\",\"source\":\"sg\"," R0 ",\"instruction_source\":\"sharegpt\"}\n"
     "{\"id\":\"42\",\"model\":\"m\",\"instruction\":\"Q\",\"instruction_type\":\"full\","
     "\"response\":\"A\",\"source\":\"sg\",\"source_index\":1,\"instruction_source\":\"sharegpt\"}"
     "\n",
     "no_human_turn=1,no_assistant_turn=1", 0, 0, NULL, NULL, NULL},
    {"generic_json_follows_dotted_paths", IFS_DS_FMT_JSON, "gen.jsonl.zst",
     "{\"uid\": 7, \"q\": {\"text\": \"Hello there\"}, \"a\": [\"General Kenobi\"], "
     "\"model\": \"m1\"}\n"
     "{\"uid\": 1.5, \"q\": {\"text\": \"x\"}, \"a\": [\"y\"], \"model\": \"m1\"}\n"
     "{\"uid\": 8, \"q\": {\"text\": \"x\"}, \"a\": [], \"model\": \"m1\"}\n"
     "{\"uid\": 9, \"q\": {\"text\": \"x\"}, \"a\": [\"y\"], \"model\": \"m1\","
     " \"instruction_type\": \"half\"}\n",
     NULL, NULL, "q.text", "a.0", "uid",
     "{\"id\":\"7\",\"model\":\"m1\",\"instruction\":\"Hello there\",\"instruction_type\":"
     "\"full\",\"response\":\"General Kenobi\",\"source\":\"gen\"," R0 "}\n",
     "missing_response=1,bad_id=1,bad_instruction_type=1", 0, 0, NULL, NULL, NULL},
    {"oasst_trees_export_keeps_best_ranked_reply_and_filters_language", IFS_DS_FMT_OASST,
     "trees.jsonl",
     "{\"message_tree_id\": \"t1\", \"prompt\": {\"message_id\": \"p1\", \"role\": "
     "\"prompter\", \"text\": \"What if\", \"lang\": \"en\", \"replies\": ["
     "{\"message_id\": \"r1\", \"role\": \"assistant\", \"text\": \"second\", \"rank\": 1,"
     " \"lang\": \"en\"},"
     "{\"message_id\": \"r0\", \"role\": \"assistant\", \"text\": \"best\", \"rank\": 0,"
     " \"lang\": \"en\"},"
     "{\"message_id\": \"rd\", \"role\": \"assistant\", \"text\": \"gone\", \"rank\": -1,"
     " \"deleted\": true}]}}\n"
     "{\"message_tree_id\": \"t2\", \"prompt\": {\"message_id\": \"p2\", \"role\": "
     "\"prompter\", \"text\": \"Hallo\", \"lang\": \"de\", \"replies\": []}}\n"
     "{\"message_tree_id\": \"t3\", \"prompt\": {\"message_id\": \"p3\", \"role\": "
     "\"prompter\", \"text\": \"Hi\", \"lang\": \"en\", \"replies\": []}}\n",
     NULL, "en", NULL, NULL, NULL,
     "{\"id\":\"p1\",\"model\":\"oasst1\",\"instruction\":\"What if\",\"instruction_type\":"
     "\"full\",\"response\":\"best\",\"source\":\"trees\"," R0 ",\"instruction_source\":\"oasst1\","
     "\"lang\":\"en\","
     "\"message_tree_id\":\"t1\",\"reply_id\":\"r0\"}\n",
     "lang_filtered=1,no_reply=1", 0, 0, NULL, NULL, NULL},
    {"oasst_messages_export_folds_the_best_reply_into_its_root", IFS_DS_FMT_OASST, "msgs.jsonl",
     "{\"message_id\": \"a\", \"parent_id\": null, \"message_tree_id\": \"a\", \"role\": "
     "\"prompter\", \"text\": \"Root A\", \"lang\": \"en\"}\n"
     "{\"message_id\": \"a1\", \"parent_id\": \"a\", \"message_tree_id\": \"a\", \"role\": "
     "\"assistant\", \"text\": \"worse\", \"rank\": 2, \"lang\": \"en\"}\n"
     "{\"message_id\": \"a2\", \"parent_id\": \"a\", \"message_tree_id\": \"a\", \"role\": "
     "\"assistant\", \"text\": \"better\", \"rank\": 0, \"lang\": \"en\"}\n"
     "{\"message_id\": \"a3\", \"parent_id\": \"a2\", \"message_tree_id\": \"a\", \"role\": "
     "\"prompter\", \"text\": \"follow-up\", \"lang\": \"en\"}\n"
     "{\"message_id\": \"a4\", \"parent_id\": \"a3\", \"message_tree_id\": \"a\", \"role\": "
     "\"assistant\", \"text\": \"deeper\", \"lang\": \"en\"}\n"
     "{\"message_id\": \"b\", \"parent_id\": null, \"message_tree_id\": \"b\", \"role\": "
     "\"prompter\", \"text\": \"Root B\", \"lang\": \"en\", \"deleted\": true}\n"
     "{\"message_id\": \"b1\", \"parent_id\": \"b\", \"message_tree_id\": \"b\", \"role\": "
     "\"assistant\", \"text\": \"x\", \"lang\": \"en\"}\n"
     "{\"message_id\": \"a5\", \"parent_id\": \"a\", \"message_tree_id\": \"a\", \"role\": "
     "\"assistant\", \"text\": \"late\", \"lang\": \"en\"}\n",
     NULL, "en", NULL, NULL, NULL,
     "{\"id\":\"a\",\"model\":\"oasst1\",\"instruction\":\"Root A\",\"instruction_type\":"
     "\"full\",\"response\":\"better\",\"source\":\"msgs\"," R0
     ",\"instruction_source\":\"oasst1\","
     "\"lang\":\"en\","
     "\"reply_id\":\"a2\"}\n",
     "deleted=2,not_first_turn=2,reply_not_best=1,tree_split=1", 1, 0, NULL, NULL, NULL},
    {"empty_file_imports_nothing", IFS_DS_FMT_JSON, "empty.jsonl", "", NULL, NULL, NULL, NULL, NULL,
     "", "", 0, 0, NULL, NULL, NULL},
    {"generic_json_reads_instruction_source_from_the_mapped_field", IFS_DS_FMT_JSON, "src.jsonl",
     "{\"instruction\": \"Hi\", \"response\": \"Hello\", \"model\": \"m\", \"origin\": \"forum\"}\n"
     "{\"instruction\": \"Hi\", \"response\": \"Hello\", \"model\": \"m\", \"origin\": 3}\n"
     "{\"instruction\": \"Yo\", \"response\": \"Hey\", \"model\": \"m\"}\n",
     NULL, NULL, NULL, NULL, NULL,
     "{\"id\":\"src/0\",\"model\":\"m\",\"instruction\":\"Hi\",\"instruction_type\":\"full\","
     "\"response\":\"Hello\",\"source\":\"src\"," R0 ",\"instruction_source\":\"forum\"}\n"
     "{\"id\":\"src/2\",\"model\":\"m\",\"instruction\":\"Yo\",\"instruction_type\":\"full\","
     "\"response\":\"Hey\",\"source\":\"src\",\"source_index\":2}\n",
     "not_string=1", 0, 0, NULL, "origin", NULL},
    {"instruction_source_option_names_every_record", IFS_DS_FMT_ALPACA, "gpteacher-roleplay.json",
     "[{\"instruction\": \"You are a pirate. Greet me.\", \"input\": \"\", \"output\": \"Ahoy!\"}]",
     NULL, NULL, NULL, NULL, NULL,
     "{\"id\":\"gpteacher-roleplay/0\",\"model\":\"gpteacher-roleplay\",\"instruction\":"
     "\"You are a pirate. Greet me.\",\"instruction_type\":\"full\",\"response\":\"Ahoy!\","
     "\"source\":\"gpteacher-roleplay\"," R0 ",\"instruction_source\":\"gpteacher\"}\n",
     "", 0, 0, "gpteacher", NULL, NULL},
    {"hh_takes_the_first_human_turn_and_the_reply_to_it", IFS_DS_FMT_HH, "hh-test.jsonl.gz",
     "{\"chosen\": \"\\n\\nHuman: what are some pranks with a pen?\\n\\nAssistant: Are you looking "
     "for practical jokes?\\n\\nHuman: yep\\n\\nAssistant: Draw on a hand.\", \"rejected\": "
     "\"x\"}\n"
     "{\"chosen\": \"\\n\\nHuman:  How much water?  \\n\\nAssistant: Two litres.\"}\n"
     "{\"chosen\": \"\\n\\nHuman: Hi\\n\\nAssistant:\"}\n",
     NULL, NULL, NULL, NULL, NULL,
     "{\"id\":\"hh-test/0\",\"model\":\"hh-test\",\"instruction\":\"what are some pranks with a "
     "pen?\",\"instruction_type\":\"full\",\"response\":\"Are you looking for practical jokes?\","
     "\"source\":\"hh-test\"," R0 ",\"instruction_source\":\"hh\"}\n"
     "{\"id\":\"hh-test/1\",\"model\":\"hh-test\",\"instruction\":\"How much water?\","
     "\"instruction_type\":\"full\",\"response\":\"Two litres.\",\"source\":\"hh-test\","
     "\"source_index\":1,\"instruction_source\":\"hh\"}\n"
     "{\"id\":\"hh-test/2\",\"model\":\"hh-test\",\"instruction\":\"Hi\","
     "\"instruction_type\":\"full\",\"response\":\"\",\"source\":\"hh-test\","
     "\"source_index\":2,\"instruction_source\":\"hh\"}\n",
     "", 0, 0, NULL, NULL, NULL},
    {"hh_counts_each_malformed_transcript_under_its_reason", IFS_DS_FMT_HH, "hh-bad.jsonl",
     "{\"chosen\": \"Assistant: hello\"}\n"
     "{\"chosen\": \"\\n\\nHuman: Anyone there?\"}\n"
     "{\"chosen\": \"\\n\\nHuman: one\\n\\nHuman: two\\n\\nAssistant: three\"}\n"
     "{\"chosen\": \"\\n\\nHuman:   \\n\\nAssistant: Hm?\"}\n"
     "{\"chosen\": \"\\n\\nHuman: Why?\\n\\nAssistant: Human: Do you think so?\"}\n"
     "{\"chosen\": \"\\n\\nHuman: Why?\\n\\nAssistant: Yes.\\nHuman: ok\"}\n"
     "{\"chosen\": 5}\n"
     "{\"rejected\": \"\\n\\nHuman: a\\n\\nAssistant: b\"}\n"
     "{\"chosen\": \"\\n\\nHuman: Is a Human: label fine mid-line?\\n\\nAssistant: It is.\"}\n",
     NULL, NULL, NULL, NULL, NULL,
     "{\"id\":\"hh-bad/8\",\"model\":\"hh-bad\",\"instruction\":\"Is a Human: label fine "
     "mid-line?\",\"instruction_type\":\"full\",\"response\":\"It is.\",\"source\":\"hh-bad\","
     "\"source_index\":8,\"instruction_source\":\"hh\"}\n",
     "missing_instruction=2,not_string=1,no_human_turn=1,no_assistant_turn=2,bad_transcript=2", 0,
     0, NULL, NULL, NULL},
    {"hh_reads_the_rejected_transcript_when_mapped", IFS_DS_FMT_HH, "hh-rej.jsonl",
     "{\"chosen\": \"\\n\\nHuman: Q\\n\\nAssistant: good\", \"rejected\": \"\\n\\nHuman: Q\\n\\n"
     "Assistant: bad\"}\n",
     "hh-model", NULL, NULL, NULL, NULL,
     "{\"id\":\"hh-rej/0\",\"model\":\"hh-model\",\"instruction\":\"Q\",\"instruction_type\":"
     "\"full\",\"response\":\"bad\",\"source\":\"hh-rej\"," R0 ",\"instruction_source\":\"hh\"}\n",
     "", 0, 0, NULL, NULL, "rejected"},
    {"gzip_input_is_read_like_plain_input", IFS_DS_FMT_ALPACA_EVAL, "gz-gen.json.gz",
     "[{\"instruction\": \"Say hi\", \"output\": \"Hi!\", \"generator\": \"g\"}]", NULL, NULL, NULL,
     NULL, NULL,
     "{\"id\":\"g/0\",\"model\":\"g\",\"instruction\":\"Say hi\",\"instruction_type\":\"full\","
     "\"response\":\"Hi!\",\"source\":\"gz-gen\"," R0 ",\"instruction_source\":\"alpaca_eval\"}\n",
     "", 0, 0, NULL, NULL, NULL},
};

static int write_input(const char *path, const char *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        return -1;
    size_t n = strlen(path);
    int ok;
    if (n > 3 && !strcmp(path + n - 3, ".gz")) {
        fclose(f);
        gzFile g = gzopen(path, "wb");
        ok = g && gzwrite(g, data, (unsigned)len) == (int)len;
        return (g && gzclose(g) == Z_OK && ok) ? 0 : -1;
    }
    if (n > 4 && !strcmp(path + n - 4, ".zst")) {
        size_t cap = ZSTD_compressBound(len);
        void *buf = malloc(cap);
        size_t z = ZSTD_compress(buf, cap, data, len, 3);
        ok = !ZSTD_isError(z) && fwrite(buf, 1, z, f) == z;
        free(buf);
    } else {
        ok = fwrite(data, 1, len, f) == len;
    }
    return (fclose(f) == 0 && ok) ? 0 : -1;
}

/* Reads every shard of a sink folder (records in manifest order). */
static void read_output(const char *dir, ds_buf *out)
{
    char mpath[2048];
    snprintf(mpath, sizeof mpath, "%s/manifest.json", dir);
    FILE *f = fopen(mpath, "rb");
    static char text[1 << 16];
    size_t n = f ? fread(text, 1, sizeof text - 1, f) : 0;
    if (f)
        fclose(f);
    text[n] = 0;
    cJSON *m = cJSON_Parse(text);
    cJSON *sh;
    cJSON_ArrayForEach(sh, cJSON_GetObjectItem(m, "shards"))
    {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", dir, cJSON_GetObjectItem(sh, "file")->valuestring);
        ifs_shard_reader *r;
        char err[256];
        if (ifs_shard_open(p, NULL, &r, err, sizeof err))
            continue;
        ifs_shard_line ln;
        while (ifs_shard_next(r, &ln) == IFS_SHARD_LINE)
            if (ln.data) {
                ds_buf_put(out, ln.data, ln.len);
                ds_buf_put(out, "\n", 1);
            }
        ifs_shard_free(r);
    }
    cJSON_Delete(m);
}

static void test_case(const import_case *c, size_t k)
{
    char in[1024], outdir[1024], err[512];
    snprintf(in, sizeof in, "%s/%s", tmpdir, c->file);
    snprintf(outdir, sizeof outdir, "%s/out-%zu", tmpdir, k);
    IFS_CHECK(write_input(in, c->input, strlen(c->input)) == 0, "%s: write input", c->name);
    ifs_ds_import_opts o = {.format = c->format,
                            .model = c->model,
                            .langs = c->langs,
                            .f_instruction = c->map_instruction,
                            .f_response = c->map_response,
                            .f_id = c->map_id,
                            .instruction_source = c->isrc,
                            .f_source = c->map_source,
                            .f_transcript = c->map_transcript};
    ds_importer *im = ds_importer_create(&o, err, sizeof err);
    ds_sink *sink = ds_sink_open(outdir, NULL, err, sizeof err);
    IFS_CHECK(im && sink, "%s: create: %s", c->name, err);
    if (!im || !sink)
        return;
    int rc = ds_import_file(im, in, sink, err, sizeof err);
    IFS_CHECK(rc == c->file_status, "%s: file status %d (%s), want %d", c->name, rc, err,
              c->file_status);
    IFS_CHECK(ds_sink_finish(sink, NULL, err, sizeof err) == 0, "%s: finish: %s", c->name, err);
    ds_buf got = {0};
    ds_buf_put(&got, "", 0);
    read_output(outdir, &got);
    IFS_CHECK(!strcmp(got.p, c->want), "%s:\n got: %s\nwant: %s", c->name, got.p, c->want);
    const ifs_ds_import_stats *st = ds_importer_stats(im);
    ds_buf skips = {0};
    ds_buf_put(&skips, "", 0);
    uint64_t skipped = 0;
    for (int i = 0; i < IFS_DS_SKIP__COUNT; i++) {
        if (!st->skipped[i])
            continue;
        skipped += st->skipped[i];
        ds_buf_printf(&skips, "%s%s=%llu", skips.len ? "," : "", ifs_ds_skip_name((ifs_ds_skip)i),
                      (unsigned long long)st->skipped[i]);
    }
    IFS_CHECK(!strcmp(skips.p, c->skips), "%s: skips '%s', want '%s'", c->name, skips.p, c->skips);
    IFS_CHECK(st->merged == c->merged, "%s: merged %llu", c->name, (unsigned long long)st->merged);
    IFS_CHECK(st->elements == st->records + st->merged + skipped,
              "%s: every element is accounted for: %llu != %llu + %llu + %llu", c->name,
              (unsigned long long)st->elements, (unsigned long long)st->records,
              (unsigned long long)st->merged, (unsigned long long)skipped);
    ifs_ds_verify_stats vs;
    IFS_CHECK(ifs_ds_verify(outdir, &vs, NULL, NULL, err, sizeof err) == 0,
              "%s: the output matches its manifest: %s", c->name, err);
    ds_buf_free(&got);
    ds_buf_free(&skips);
    ds_sink_free(sink);
    ds_importer_free(im);
}

/* A record larger than the element cap is skipped, the next one kept. */
static void test_too_large(void)
{
    char in[1024], outdir[1024], err[512];
    snprintf(in, sizeof in, "%s/big.json", tmpdir);
    snprintf(outdir, sizeof outdir, "%s/out-big", tmpdir);
    ds_buf b = {0};
    ds_buf_puts(&b, "[{\"instruction\":\"i\",\"output\":\"");
    for (int i = 0; i < 5000; i++)
        ds_buf_puts(&b, "x");
    ds_buf_puts(&b, "\",\"generator\":\"g\"},{\"instruction\":\"i\",\"output\":\"o\","
                    "\"generator\":\"g\"}]");
    write_input(in, b.p, b.len);
    ifs_ds_import_opts o = {.format = IFS_DS_FMT_ALPACA_EVAL, .max_elem = 1024};
    ds_importer *im = ds_importer_create(&o, err, sizeof err);
    ds_sink *sink = ds_sink_open(outdir, NULL, err, sizeof err);
    IFS_CHECK(im && sink, "too_large: create: %s", err);
    if (!im || !sink)
        return;
    int rc = ds_import_file(im, in, sink, err, sizeof err);
    const ifs_ds_import_stats *st = ds_importer_stats(im);
    IFS_CHECK(rc == 0 && st->records == 1 && st->skipped[IFS_DS_SKIP_TOO_LARGE] == 1,
              "element_over_the_cap_is_skipped_and_the_next_kept: rc %d records %llu", rc,
              (unsigned long long)st->records);
    ds_sink_free(sink);
    ds_importer_free(im);
    ds_buf_free(&b);
}

/* gzip bytes of data (one member) into out. */
static void gzip_bytes(const char *data, ds_buf *out)
{
    z_stream z = {0};
    deflateInit2(&z, 6, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY);
    unsigned char buf[1 << 16];
    z.next_in = (Bytef *)data;
    z.avail_in = (uInt)strlen(data);
    z.next_out = buf;
    z.avail_out = sizeof buf;
    deflate(&z, Z_FINISH);
    ds_buf_put(out, buf, sizeof buf - z.avail_out);
    deflateEnd(&z);
}

/* gzip streams as files are found: concatenated members are one stream;
 * a cut, a flipped byte or junk after the data are errors naming the file,
 * after the records before them were imported. */
static void test_gzip_streams(void)
{
    static const char a[] = "{\"instruction\":\"i1\",\"response\":\"r1\",\"model\":\"m\"}\n";
    static const char b[] = "{\"instruction\":\"i2\",\"response\":\"r2\",\"model\":\"m\"}\n";
    ds_buf one = {0}, two = {0};
    gzip_bytes(a, &one);
    gzip_bytes(b, &two);
    struct {
        const char *name;
        int cut;          /* bytes dropped from the end of the two members */
        int flip;         /* offset into the second member to corrupt (-1 none) */
        const char *junk; /* bytes appended */
        int want_rc;
        uint64_t want_records;
    } cases[] = {
        {"two_concatenated_gzip_members_are_one_stream", 0, -1, NULL, 0, 2},
        {"a_gzip_file_cut_in_its_trailer_is_truncated", 5, -1, NULL, IFS_DS_ETRUNC, 2},
        {"a_gzip_file_cut_inside_its_data_is_truncated", 25, -1, NULL, IFS_DS_ETRUNC, 1},
        {"a_corrupt_gzip_member_is_malformed", 0, 12, NULL, IFS_DS_EFORMAT, 1},
        {"junk_after_the_last_gzip_member_is_malformed", 0, -1, "garbage", IFS_DS_EFORMAT, 2},
        {"a_lone_byte_after_the_last_member_is_malformed", 0, -1, "\x1f", IFS_DS_EFORMAT, 2},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        ds_buf f = {0};
        ds_buf_put(&f, one.p, one.len);
        size_t second = f.len;
        ds_buf_put(&f, two.p, two.len);
        f.len -= (size_t)cases[i].cut;
        if (cases[i].flip >= 0)
            f.p[second + (size_t)cases[i].flip] ^= 0x55;
        if (cases[i].junk)
            ds_buf_puts(&f, cases[i].junk);
        char in[1024], outdir[1024], err[512] = "";
        snprintf(in, sizeof in, "%s/gz-%zu.jsonl", tmpdir, i);
        snprintf(outdir, sizeof outdir, "%s/out-gz-%zu", tmpdir, i);
        FILE *fp = fopen(in, "wb");
        if (fp) {
            fwrite(f.p, 1, f.len, fp);
            fclose(fp);
        }
        ifs_ds_import_opts o = {.format = IFS_DS_FMT_JSON};
        ds_importer *im = ds_importer_create(&o, err, sizeof err);
        ds_sink *sink = ds_sink_open(outdir, NULL, err, sizeof err);
        int rc = ds_import_file(im, in, sink, err, sizeof err);
        const ifs_ds_import_stats *st = ds_importer_stats(im);
        IFS_CHECK(rc == cases[i].want_rc, "%s: status %d (%s)", cases[i].name, rc, err);
        IFS_CHECK(st->records == cases[i].want_records, "%s: %llu records", cases[i].name,
                  (unsigned long long)st->records);
        IFS_CHECK(!rc || strstr(err, in) != NULL, "%s: the error names the file: %s", cases[i].name,
                  err);
        ds_sink_free(sink);
        ds_importer_free(im);
        ds_buf_free(&f);
    }
    ds_buf_free(&one);
    ds_buf_free(&two);
}

int main(void)
{
    snprintf(tmpdir, sizeof tmpdir, "%s/import", ifs_test_env("IFS_TEST_TMP", "/tmp"));
    struct stat st;
    if (mkdir(tmpdir, 0777) && (stat(tmpdir, &st) || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "FAIL: cannot create the scratch folder %s\n", tmpdir);
        return 1;
    }
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        test_case(&cases[i], i);
    test_too_large();
    test_gzip_streams();
    return ifs_test_done("import");
}
