/*
 * test_cuda_emulated_backend.cpp - the "cuda" backend's own code
 * (kernels/cuda/cuda_backend.cu: create, weight upload and per-device cache,
 * staging, the three-buffer plan, the [CLS]-only last layer, encode (every
 * row after n layers, for train-head), NaN pass-through,
 * budget lowering, destroy) with its real kernels, run on the host through
 * cuda_emulate.h and cuda_emulate_runtime.h, against the "cpu" backend via
 * the public interface. No GPU needed: it runs in CI. The GEMMs are a plain
 * loop standing in for cuBLASLt (checked on a GPU by cuda_ops.c).
 *
 * Cases (tiny shapes, since each emulated block is up to 128 OS threads):
 * head dims 32 and 64 (tensor-core kernel) and 48 (generic), exact and tanh
 * GELU and relu, 2 and 3 labels, token types, sequences of 1 to 130 tokens;
 * f32 within 1e-4 of the CPU backend, f16 within 0.02 + 0.02|ref|, bf16
 * within 0.1 + 0.05|ref|; argmax equal unless p is within 0.01 of 0.5.
 */
#include "cuda_emulate.h"
#include "cuda_emulate_runtime.h"

#include "../../kernels/cuda/activation.cu"
#include "../../kernels/cuda/attention.cu"
#include "../../kernels/cuda/layernorm.cu"
#include "../../kernels/cuda/pooler.cu"
#include "../../kernels/cuda/cuda_backend.cu"

#include "ifs_test.h"

#include <string>
#include <vector>

typedef std::vector<float> vecf;

static uint64_t rng_state;
static void rng_seed(uint64_t s)
{
    rng_state = s * 0x9E3779B97F4A7C15ull + 1;
}
static uint32_t rng_u32()
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state >> 11);
}
static float rng_normal()
{
    float u = ((rng_u32() >> 11) + 0.5f) / 2097152.0f, v = ((rng_u32() >> 11) + 0.5f) / 2097152.0f;
    return sqrtf(-2.0f * logf(u)) * cosf(6.2831853f * v);
}

/* A random checkpoint that owns its arrays. */
struct model {
    ifs_bert_weights w;
    std::vector<ifs_bert_layer> layers;
    std::vector<vecf> arrays;
    size_t n_floats = 0;
    const float *arr(size_t n, float mean, float sd)
    {
        arrays.emplace_back(n);
        for (auto &x : arrays.back())
            x = mean + sd * rng_normal();
        n_floats += n;
        return arrays.back().data();
    }
    model(int H, int heads, int I, int n_layers, ifs_act act, int labels, uint64_t seed)
    {
        rng_seed(seed);
        arrays.reserve(16 * n_layers + 16);
        memset(&w, 0, sizeof w);
        ifs_bert_config &c = w.cfg;
        c.vocab_size = 120;
        c.hidden = H;
        c.n_layers = n_layers;
        c.n_heads = heads;
        c.intermediate = I;
        c.max_position = 160;
        c.type_vocab = 2;
        c.num_labels = labels;
        c.ln_eps = 1e-12f;
        c.act = act;
        const float sh = 1 / sqrtf((float)H), si = 1 / sqrtf((float)I);
        w.word_emb = arr((size_t)c.vocab_size * H, 0, 1);
        w.pos_emb = arr((size_t)c.max_position * H, 0, 0.5f);
        w.type_emb = arr(2 * (size_t)H, 0, 0.3f);
        w.emb_ln_g = arr(H, 1, 0.1f);
        w.emb_ln_b = arr(H, 0, 0.1f);
        layers.resize(n_layers);
        for (auto &L : layers) {
            L.q_w = arr((size_t)H * H, 0, 1.5f * sh);
            L.q_b = arr(H, 0, 0.1f);
            L.k_w = arr((size_t)H * H, 0, 1.5f * sh);
            L.k_b = arr(H, 0, 0.1f);
            L.v_w = arr((size_t)H * H, 0, sh);
            L.v_b = arr(H, 0, 0.1f);
            L.ao_w = arr((size_t)H * H, 0, sh);
            L.ao_b = arr(H, 0, 0.1f);
            L.ln1_g = arr(H, 1, 0.1f);
            L.ln1_b = arr(H, 0, 0.1f);
            L.i_w = arr((size_t)I * H, 0, sh);
            L.i_b = arr(I, 0, 0.1f);
            L.o_w = arr((size_t)H * I, 0, si);
            L.o_b = arr(H, 0, 0.1f);
            L.ln2_g = arr(H, 1, 0.1f);
            L.ln2_b = arr(H, 0, 0.1f);
        }
        w.layers = layers.data();
        w.pool_w = arr((size_t)H * H, 0, sh);
        w.pool_b = arr(H, 0, 0.1f);
        w.cls_w = arr((size_t)labels * H, 0, 2 * sh);
        w.cls_b = arr(labels, 0, 0.1f);
    }
};

struct batch {
    std::vector<int32_t> ids, types, off;
    ifs_batch b;
    batch(std::initializer_list<int32_t> lens, int vocab, bool with_types, uint64_t seed)
    {
        rng_seed(seed);
        off.push_back(0);
        for (int32_t l : lens)
            off.push_back(off.back() + l);
        for (size_t s = 0; s + 1 < off.size(); s++)
            for (int32_t t = off[s]; t < off[s + 1]; t++) {
                ids.push_back(t == off[s] ? 1 : 2 + (int32_t)(rng_u32() % (uint32_t)(vocab - 2)));
                types.push_back((t - off[s]) * 2 > off[s + 1] - off[s]);
            }
        b.n_seqs = (int32_t)off.size() - 1;
        b.n_tokens = off.back();
        b.input_ids = ids.data();
        b.type_ids = with_types ? types.data() : nullptr;
        b.seq_off = off.data();
    }
};

static ifs_backend *make(const char *kind, const ifs_bert_weights *w, ifs_dtype dt, int32_t tokens,
                         std::string *err_out = nullptr)
{
    ifs_backend_opts o = ifs_backend_default_opts();
    o.dtype = dt;
    o.n_threads = 1;
    o.max_batch_tokens = tokens;
    o.max_batch_seqs = 64;
    ifs_backend *b = nullptr;
    char err[512] = "";
    int rc = ifs_backend_create(kind, w, &o, &b, err, sizeof err);
    if (err_out)
        *err_out = err;
    IFS_CHECK(rc == IFS_BK_OK, "create %s (dtype %d): %d %s", kind, (int)dt, rc, err);
    return b;
}

static const char *dname(ifs_dtype dt)
{
    return dt == IFS_DT_F32 ? "f32" : dt == IFS_DT_F16 ? "f16" : "bf16";
}

static void parity(const char *shape, const model &m, ifs_dtype dt, bool types)
{
    const int L = m.w.cfg.num_labels, H = m.w.cfg.hidden;
    batch bt({1, 5, 64, 70, 130, 2}, m.w.cfg.vocab_size, types, 3);
    const int S = bt.b.n_seqs;
    vecf lc((size_t)S * L), lg((size_t)S * L), cc((size_t)S * H), cg((size_t)S * H);
    ifs_backend *cpu = make("cpu", &m.w, IFS_DT_F32, 512), *gpu = make("cuda", &m.w, dt, 512);
    if (!cpu || !gpu) {
        ifs_backend_free(cpu);
        ifs_backend_free(gpu);
        return;
    }
    int rc1 = ifs_backend_forward(cpu, &bt.b, lc.data(), cc.data());
    int rc2 = ifs_backend_forward(gpu, &bt.b, lg.data(), cg.data());
    IFS_CHECK(rc1 == 0 && rc2 == 0, "%s %s: forward failed: %s / %s", shape, dname(dt),
              ifs_backend_error(cpu), ifs_backend_error(gpu));
    const double atol = dt == IFS_DT_F32 ? 1e-4 : dt == IFS_DT_F16 ? 0.02 : 0.1;
    const double rtol = dt == IFS_DT_F32 ? 0 : dt == IFS_DT_F16 ? 0.02 : 0.05;
    int bad = 0, bad_cls = 0, bad_flip = 0;
    double max_err = 0, max_cls = 0;
    for (size_t i = 0; i < lc.size(); i++) {
        double d = fabs((double)lg[i] - lc[i]);
        bad += !(d <= atol + rtol * fabs(lc[i]));
        max_err = fmax(max_err, d);
    }
    for (size_t i = 0; i < cc.size(); i++) {
        double d = fabs((double)cg[i] - cc[i]);
        bad_cls += !(d <= atol + rtol * fabs(cc[i]));
        max_cls = fmax(max_cls, d);
    }
    for (int s = 0; s < S; s++) {
        int ag = 0, ar = 0;
        for (int j = 1; j < L; j++) {
            if (lg[s * L + j] > lg[s * L + ag])
                ag = j;
            if (lc[s * L + j] > lc[s * L + ar])
                ar = j;
        }
        if (ag != ar) {
            double p = L == 2 ? 1 / (1 + exp((double)lc[s * L] - lc[s * L + 1])) : 0;
            bad_flip += L != 2 || fabs(p - 0.5) > 0.01;
        }
    }
    int faults = ifs_emu::faults.exchange(0);
    IFS_CHECK(faults == 0, "%s %s: emulator rule violations: %s", shape, dname(dt),
              ifs_emu::fault_msg);
    IFS_CHECK(bad == 0, "%s %s: %d logits off (max %.3g)", shape, dname(dt), bad, max_err);
    IFS_CHECK(bad_cls == 0, "%s %s: %d [CLS] values off (max %.3g)", shape, dname(dt), bad_cls,
              max_cls);
    IFS_CHECK(bad_flip == 0, "%s %s: %d argmax flips away from p = 0.5", shape, dname(dt),
              bad_flip);
    printf("%s %s in %s matches the cpu backend: max|dlogit| %.3g, max|dcls| %.3g\n",
           bad || bad_cls || bad_flip || faults ? "FAIL" : "ok  ", shape, dname(dt), max_err,
           max_cls);
    ifs_backend_free(cpu);
    ifs_backend_free(gpu);
}

/* ifs_backend_encode: every row after 0, 1 and all layers (the last one in
 * full, not [CLS]-only), against the cpu backend's. */
static void encode_matches(const model &m, ifs_dtype dt)
{
    const int H = m.w.cfg.hidden;
    batch bt({1, 9, 33, 2}, m.w.cfg.vocab_size, true, 4);
    const size_t n = (size_t)bt.b.n_tokens * H;
    ifs_backend *cpu = make("cpu", &m.w, IFS_DT_F32, 256), *gpu = make("cuda", &m.w, dt, 256);
    if (!cpu || !gpu) {
        ifs_backend_free(cpu);
        ifs_backend_free(gpu);
        return;
    }
    const double atol = dt == IFS_DT_F32 ? 1e-4 : dt == IFS_DT_F16 ? 0.02 : 0.1;
    const double rtol = dt == IFS_DT_F32 ? 0 : dt == IFS_DT_F16 ? 0.02 : 0.05;
    for (int depth : {0, 1, (int)m.w.cfg.n_layers}) {
        vecf hc(n), hg(n, NAN);
        int rc1 = ifs_backend_encode(cpu, &bt.b, depth, hc.data());
        int rc2 = ifs_backend_encode(gpu, &bt.b, depth, hg.data());
        IFS_CHECK(rc1 == 0 && rc2 == 0, "encode %d layers: %s / %s", depth, ifs_backend_error(cpu),
                  ifs_backend_error(gpu));
        int bad = 0;
        double worst = 0;
        for (size_t i = 0; i < n; i++) {
            double d = fabs((double)hg[i] - hc[i]);
            bad += !(d <= atol + rtol * fabs(hc[i])); /* also catches a NaN never written */
            worst = fmax(worst, d);
        }
        int faults = ifs_emu::faults.exchange(0);
        IFS_CHECK(bad == 0 && faults == 0,
                  "%s encode %d layers: %d of %zu rows' values off "
                  "(max %.3g), %d emulator faults",
                  dname(dt), depth, bad, n, worst, faults);
        printf("%s %s encode after %d layer(s) matches the cpu backend: max|d| %.3g\n",
               bad || faults ? "FAIL" : "ok  ", dname(dt), depth, worst);
    }
    IFS_CHECK(ifs_backend_encode(gpu, &bt.b, m.w.cfg.n_layers + 1, vecf(n).data()) == IFS_BK_EARG,
              "a depth beyond the model was not refused");
    ifs_backend_free(cpu);
    ifs_backend_free(gpu);
}

static void nan_is_named(const model &m)
{
    model bad = m; /* same values, its own arrays */
    bad.w.layers = bad.layers.data();
    vecf &word = bad.arrays[0];
    for (int i = 0; i < m.w.cfg.hidden; i++)
        word[(size_t)100 * m.w.cfg.hidden + i] = NAN;
    bad.w.word_emb = word.data();
    batch bt({9, 12, 7}, 90, false, 4); /* ids < 90 */
    bt.ids[bt.off[1] + 3] = 100;
    const int L = m.w.cfg.num_labels;
    vecf ln(3 * L), lc(3 * L);
    ifs_backend *b = make("cuda", &bad.w, IFS_DT_F16, 64), *g = make("cuda", &m.w, IFS_DT_F16, 64);
    if (b && g) {
        int rc = ifs_backend_forward(b, &bt.b, ln.data(), nullptr);
        std::string msg = ifs_backend_error(b);
        IFS_CHECK(rc == IFS_BK_OK && msg.find("sequence 1 ") != std::string::npos,
                  "a NaN in sequence 1 gave rc %d: %s", rc, msg.c_str());
        IFS_CHECK(ifs_backend_forward(g, &bt.b, lc.data(), nullptr) == IFS_BK_OK, "clean run");
        bool ok = true;
        for (int s = 0; s < 3; s++)
            for (int j = 0; j < L; j++)
                ok =
                    ok && (s == 1 ? !std::isfinite(ln[s * L + j]) : ln[s * L + j] == lc[s * L + j]);
        IFS_CHECK(ok, "the NaN of sequence 1 reached another sequence or was lost");
        printf(
            "%s a NaN in one sequence is returned in place and named, the others unchanged (%s)\n",
            ok ? "ok  " : "FAIL", msg.c_str());
    }
    ifs_backend_free(b);
    ifs_backend_free(g);
}

static void shared_weights_and_leaks(const model &m)
{
    const size_t before = ifs_emu_rt::device_used;
    batch bt({3, 40, 17}, m.w.cfg.vocab_size, false, 5);
    const int L = m.w.cfg.num_labels;
    vecf la(3 * L), lb(3 * L);
    ifs_backend *a = make("cuda", &m.w, IFS_DT_F32, 128);
    const size_t after_a = ifs_emu_rt::device_used;
    ifs_backend *b = make("cuda", &m.w, IFS_DT_F32, 128);
    const size_t after_b = ifs_emu_rt::device_used;
    if (a && b) {
        const size_t first = after_a - before, second = after_b - after_a;
        IFS_CHECK(first - second >= 4 * m.n_floats,
                  "first handle %zu bytes, second %zu: the %zu bytes of weights were not shared",
                  first, second, 4 * m.n_floats);
        IFS_CHECK(ifs_backend_forward(a, &bt.b, la.data(), nullptr) == 0 &&
                      ifs_backend_forward(b, &bt.b, lb.data(), nullptr) == 0 && la == lb,
                  "two handles on shared weights disagree");
        printf("ok   two handles share one weight copy (first %zu bytes, second %zu)\n", first,
               second);
    }
    ifs_backend_free(a);
    IFS_CHECK(ifs_emu_rt::device_used > before,
              "freeing one of two handles freed the shared weights");
    ifs_backend_free(b);
    IFS_CHECK(ifs_emu_rt::device_used == before, "%zu device bytes left after freeing every handle",
              ifs_emu_rt::device_used - before);
    printf("%s every device byte is returned when the last handle goes\n",
           ifs_emu_rt::device_used == before ? "ok  " : "FAIL");
}

static void budget_and_devices(const model &m)
{
    const size_t saved = ifs_emu_rt::device_limit;
    ifs_emu_rt::device_limit = ifs_emu_rt::device_used + (48u << 20); /* weights + ~16 MiB */
    std::string note;
    ifs_backend *b = make("cuda", &m.w, IFS_DT_F16, 1 << 24, &note);
    if (b) {
        note = ifs_backend_error(b);
        IFS_CHECK(note.find("lowered") != std::string::npos, "no note of a lowered budget: '%s'",
                  note.c_str());
        IFS_CHECK(b->opts.max_batch_tokens < (1 << 24) && b->opts.max_batch_tokens >= 160,
                  "budget %d after lowering", b->opts.max_batch_tokens);
        batch bt({150, 3}, m.w.cfg.vocab_size, false, 6);
        vecf lg(2 * m.w.cfg.num_labels);
        IFS_CHECK(ifs_backend_forward(b, &bt.b, lg.data(), nullptr) == IFS_BK_OK,
                  "forward after lowering: %s", ifs_backend_error(b));
        printf("ok   a budget too large for the device is lowered and says so: %s\n", note.c_str());
    }
    ifs_backend_free(b);
    ifs_emu_rt::device_limit = ifs_emu_rt::device_used + (64u << 10); /* not even the weights */
    ifs_backend_opts o = ifs_backend_default_opts();
    ifs_backend *x = nullptr;
    char err[512] = "";
    int rc = ifs_backend_create("cuda", &m.w, &o, &x, err, sizeof err);
    IFS_CHECK(rc == IFS_BK_ENOMEM && !x, "weights that do not fit gave %d: %s", rc, err);
    ifs_emu_rt::device_limit = saved;
    o.device = 3;
    rc = ifs_backend_create("cuda", &m.w, &o, &x, err, sizeof err);
    IFS_CHECK(rc == IFS_BK_EARG && !x, "device 3 of 1 gave %d: %s", rc, err);
    ifs_emu_rt::n_devices = 0;
    o.device = 0;
    rc = ifs_backend_create("cuda", &m.w, &o, &x, err, sizeof err);
    IFS_CHECK(rc == IFS_BK_EUNSUP && !x && !ifs_backend_available("cuda"), "no device gave %d: %s",
              rc, err);
    ifs_emu_rt::n_devices = 1;
    printf("ok   weights that do not fit, a missing ordinal and no device are refused plainly\n");
}

/* A copy that cannot be queued in the middle of staging a batch (the 2nd,
 * 3rd or 4th of ids | types | positions | offsets), or when the logits come
 * back: forward fails with a device error, and returns only once nothing
 * it queued is still in flight, since the next call rewrites the pinned
 * staging buffers a DMA would still be reading. The handle then works. */
static void failed_copies_leave_nothing_in_flight(const model &m)
{
    batch bt({3, 40, 17}, m.w.cfg.vocab_size, true, 8); /* with types: four staging copies */
    const int L = m.w.cfg.num_labels;
    vecf want(3 * L), got(3 * L);
    ifs_backend *b = make("cuda", &m.w, IFS_DT_F16, 128);
    if (!b)
        return;
    IFS_CHECK(ifs_backend_forward(b, &bt.b, want.data(), nullptr) == IFS_BK_OK, "clean forward");
    for (int at = 1; at <= 5; at++) {
        ifs_emu_rt::fail_memcpy_at = at;
        int rc = ifs_backend_forward(b, &bt.b, got.data(), nullptr);
        const int left = ifs_emu_rt::in_flight();
        ifs_emu_rt::fail_memcpy_at = 0;
        IFS_CHECK(rc == IFS_BK_EDEVICE, "copy %d failing gave rc %d (%s)", at, rc,
                  ifs_backend_error(b));
        IFS_CHECK(left == 0, "copy %d failing: forward returned with %d copies still in flight", at,
                  left);
        rc = ifs_backend_forward(b, &bt.b, got.data(), nullptr);
        IFS_CHECK(rc == IFS_BK_OK && got == want,
                  "after copy %d failed, the next forward gave rc %d "
                  "or other logits",
                  at, rc);
        printf("%s copy %d of a forward failing returns EDEVICE with nothing in flight, and the "
               "handle recovers\n",
               rc == IFS_BK_OK && left == 0 ? "ok  " : "FAIL", at);
    }
    ifs_backend_free(b);
}

/* Per-stage timing: every stage a forward runs is timed, the names are
 * the stages', and it is off again when disabled; only cuda handles take it. */
static void stage_profile_counts_every_stage(const model &m, bool relu)
{
    batch bt({3, 40, 17}, m.w.cfg.vocab_size, false, 9);
    const int L = m.w.cfg.num_labels;
    vecf lg(3 * L), plain(3 * L);
    ifs_backend *b = make("cuda", &m.w, IFS_DT_F16, 128), *cpu = make("cpu", &m.w, IFS_DT_F32, 128);
    if (!b || !cpu) {
        ifs_backend_free(b);
        ifs_backend_free(cpu);
        return;
    }
    IFS_CHECK(ifs_backend_forward(b, &bt.b, plain.data(), nullptr) == IFS_BK_OK, "forward");
    IFS_CHECK(ifs_cuda_backend_profile(b, 1) == IFS_BK_OK, "enable: %s", ifs_backend_error(b));
    for (int i = 0; i < 2; i++)
        IFS_CHECK(ifs_backend_forward(b, &bt.b, lg.data(), nullptr) == IFS_BK_OK,
                  "profiled forward");
    IFS_CHECK(lg == plain, "profiling changed the logits");
    ifs_cuda_stage_times t;
    IFS_CHECK(ifs_cuda_backend_profile_read(b, &t) == IFS_BK_OK && t.forwards == 2,
              "read after 2 forwards: %lld", (long long)t.forwards);
    int untimed = 0;
    for (int st = 0; st < IFS_CUDA_N_STAGES; st++) {
        const bool runs =
            !(relu && st == IFS_CUDA_ST_BIAS_ACT) &&
            !(m.w.cfg.n_layers == 1 &&
              (st == IFS_CUDA_ST_ATTENTION || st == IFS_CUDA_ST_AO_GEMM || st == IFS_CUDA_ST_LN1 ||
               st == IFS_CUDA_ST_FFN_IN_GEMM || st == IFS_CUDA_ST_BIAS_ACT ||
               st == IFS_CUDA_ST_FFN_OUT_GEMM || st == IFS_CUDA_ST_LN2));
        IFS_CHECK(std::isfinite(t.ms[st]) && t.ms[st] >= 0, "stage %s: %g ms",
                  ifs_cuda_stage_name(st), t.ms[st]);
        /* the GEMM stand-in and the kernels take real host time here */
        if (runs && st != IFS_CUDA_ST_H2D && st != IFS_CUDA_ST_D2H && !(t.ms[st] > 0))
            untimed++;
        if (!runs)
            IFS_CHECK(t.ms[st] == 0, "stage %s never runs here but has %g ms",
                      ifs_cuda_stage_name(st), t.ms[st]);
    }
    IFS_CHECK(untimed == 0, "%d stages that ran got no time", untimed);
    IFS_CHECK(!strcmp(ifs_cuda_stage_name(IFS_CUDA_ST_QKV_GEMM), "qkv_gemm") &&
                  !strcmp(ifs_cuda_stage_name(IFS_CUDA_N_STAGES), "?"),
              "stage names");
    IFS_CHECK(ifs_cuda_backend_profile(b, 0) == IFS_BK_OK &&
                  ifs_backend_forward(b, &bt.b, lg.data(), nullptr) == IFS_BK_OK &&
                  ifs_cuda_backend_profile_read(b, &t) == IFS_BK_OK && t.forwards == 0,
              "profiling did not stop");
    IFS_CHECK(ifs_cuda_backend_profile(cpu, 1) == IFS_BK_EARG, "a cpu handle accepted profiling");
    printf("%s per-stage timing covers every stage of a %s forward and leaves the logits alone\n",
           untimed ? "FAIL" : "ok  ", relu ? "relu" : "gelu");
    ifs_backend_free(b);
    ifs_backend_free(cpu);
}

/* ifs_backend_gemm_peak: a rate from both kinds (the cuda one through the
 * stand-in GEMM), and every refusal the header lists. */
static void gemm_peak_measures_and_refuses()
{
    char err[256] = "";
    double tf = -1;
    int rc = ifs_backend_gemm_peak("cpu", 0, IFS_DT_F32, 256, 192, 128, 3, &tf, err, sizeof err);
    IFS_CHECK(rc == IFS_BK_OK && tf > 0 && std::isfinite(tf), "cpu peak: %d %g %s", rc, tf, err);
    printf("%s cpu gemm peak at 256x192x128: %.4f TFLOP/s (under load: a plumbing check)\n",
           rc == IFS_BK_OK ? "ok  " : "FAIL", tf);
    tf = -1;
    rc = ifs_backend_gemm_peak("cuda", 0, IFS_DT_BF16, 64, 48, 32, 3, &tf, err, sizeof err);
    IFS_CHECK(rc == IFS_BK_OK && tf > 0 && std::isfinite(tf), "cuda peak: %d %g %s", rc, tf, err);
    static const struct {
        const char *kind;
        int device;
        ifs_dtype dt;
        int m, n, k, rep, want;
        const char *why;
    } bad[] = {
        {"cpu", 0, IFS_DT_F16, 64, 64, 64, 2, IFS_BK_EUNSUP, "the cpu computes in f32 only"},
        {"tpu", 0, IFS_DT_F32, 64, 64, 64, 2, IFS_BK_EUNSUP, "an unknown kind"},
        {"cpu", 0, IFS_DT_F32, 0, 64, 64, 2, IFS_BK_EARG, "a zero size"},
        {"cpu", 0, IFS_DT_F32, 64, 70000, 64, 2, IFS_BK_EARG, "a size over 65536"},
        {"cpu", 0, IFS_DT_F32, 64, 64, 64, 0, IFS_BK_EARG, "no repeats"},
        {"cuda", 3, IFS_DT_F16, 64, 64, 64, 2, IFS_BK_EARG, "a missing device"},
        {"cuda", 0, (ifs_dtype)9, 64, 64, 64, 2, IFS_BK_EUNSUP, "an unknown dtype"},
    };
    for (const auto &c : bad) {
        rc = ifs_backend_gemm_peak(c.kind, c.device, c.dt, c.m, c.n, c.k, c.rep, &tf, err,
                                   sizeof err);
        IFS_CHECK(rc == c.want && err[0], "gemm peak with %s gave %d (want %d): '%s'", c.why, rc,
                  c.want, err);
    }
    IFS_CHECK(ifs_backend_gemm_peak("cpu", 0, IFS_DT_F32, 8, 8, 8, 1, nullptr, err, sizeof err) ==
                  IFS_BK_EARG,
              "a NULL result pointer was accepted");
    ifs_emu_rt::n_devices = 0;
    rc = ifs_backend_gemm_peak("cuda", 0, IFS_DT_F16, 64, 64, 64, 2, &tf, err, sizeof err);
    ifs_emu_rt::n_devices = 1;
    IFS_CHECK(rc == IFS_BK_EUNSUP, "gemm peak without a device gave %d: %s", rc, err);
    printf(
        "ok   gemm peak measures on both kinds and refuses bad sizes, kinds, dtypes and devices\n");
}

int main()
{
    model a(64, 2, 128, 2, IFS_ACT_GELU, 2, 11);       /* head dim 32 */
    model b(128, 2, 256, 3, IFS_ACT_GELU_TANH, 3, 12); /* head dim 64, 3 labels */
    model c(96, 2, 192, 1, IFS_ACT_RELU, 2, 13);       /* head dim 48: generic */
    for (ifs_dtype dt : {IFS_DT_F32, IFS_DT_F16, IFS_DT_BF16})
        parity("hidden 64, head dim 32, gelu", a, dt, false);
    for (ifs_dtype dt : {IFS_DT_F32, IFS_DT_F16, IFS_DT_BF16})
        parity("hidden 128, head dim 64, tanh gelu, 3 labels, types", b, dt, true);
    for (ifs_dtype dt : {IFS_DT_F32, IFS_DT_F16})
        parity("hidden 96, head dim 48, relu, one layer", c, dt, false);
    for (ifs_dtype dt : {IFS_DT_F32, IFS_DT_F16, IFS_DT_BF16})
        encode_matches(b, dt);
    failed_copies_leave_nothing_in_flight(b);
    stage_profile_counts_every_stage(a, false);
    stage_profile_counts_every_stage(c, true);
    gemm_peak_measures_and_refuses();
    nan_is_named(a);
    shared_weights_and_leaks(a);
    budget_and_devices(a);
    return ifs_test_done("cuda_emulated_backend");
}
