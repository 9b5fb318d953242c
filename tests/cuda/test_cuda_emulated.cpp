/*
 * test_cuda_emulated.cpp - the CUDA backend's kernel source, compiled for
 * the host against cuda_emulate.h and run thread by thread, against the
 * fp32 CPU reference ops. It needs no GPU, so it runs in CI: it checks the
 * kernels' index arithmetic, ragged-sequence masking, shared-memory layout
 * and alignment, wmma tile layouts, barrier placement (build with
 * -fsanitize=thread to see a missing barrier as a race) and launch shapes
 * (shared memory over 48 KiB without the opt-in fails the launch). It does
 * not check the real tensor cores, nvcc's code generation or speed:
 * tests/cuda/cuda_ops.c does that on a GPU, with the same cases and budgets.
 *
 * Shapes are small (each emulated block is 32-128 OS threads), but cover
 * every path: wmma f16/bf16 at head dims 32 and 64 over sequences of 1, 17,
 * 63-65, 129-130 tokens (one and several query and key tiles, partial
 * tiles), the generic kernel (f32, f16 head dim 48, forced), [CLS]-only
 * attention, both LayerNorm kernels, bias + activation, pooler, gather.
 */
#include "cuda_emulate.h"

#include "../../kernels/cuda/activation.cu"
#include "../../kernels/cuda/attention.cu"
#include "../../kernels/cuda/layernorm.cu"
#include "../../kernels/cuda/pooler.cu"

#include "../../kernels/cpu/ifs_cpu_ops.h"
#include "ifs_test.h"

#include <vector>

typedef std::vector<float> vecf;

static uint64_t rng_state;
static void rng_seed(uint64_t s) { rng_state = s * 0x9E3779B97F4A7C15ull + 1; }
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
static vecf normal(size_t n, float mean, float sd)
{
    vecf v(n);
    for (auto &x : v) x = mean + sd * rng_normal();
    return v;
}

/* "Device" arrays are host memory here. Rounds v in place to dt and returns
 * the dt elements (as bytes). Converted on the host (round to nearest even,
 * as the device does; check_conversions runs the conversion kernels). */
static std::vector<unsigned char> elems(ifs_dtype dt, vecf &v)
{
    std::vector<unsigned char> d(ifs_cuda_dtype_size(dt) * v.size()); /* exact: ASan sees overruns */
    for (size_t i = 0; i < v.size(); i++) {
        if (dt == IFS_DT_F16) {
            __half h = __float2half_rn(v[i]);
            memcpy(d.data() + 2 * i, &h, 2);
            v[i] = __half2float(h);
        } else if (dt == IFS_DT_BF16) {
            __nv_bfloat16 h = __float2bfloat16_rn(v[i]);
            memcpy(d.data() + 2 * i, &h, 2);
            v[i] = __bfloat162float(h);
        } else {
            memcpy(d.data() + 4 * i, &v[i], 4);
        }
    }
    return d;
}
static vecf floats(ifs_dtype dt, const std::vector<unsigned char> &d, size_t n)
{
    vecf v(n);
    for (size_t i = 0; i < n; i++) {
        if (dt == IFS_DT_F16) {
            __half h;
            memcpy(&h, d.data() + 2 * i, 2);
            v[i] = __half2float(h);
        } else if (dt == IFS_DT_BF16) {
            __nv_bfloat16 h;
            memcpy(&h, d.data() + 2 * i, 2);
            v[i] = __bfloat162float(h);
        } else {
            memcpy(&v[i], d.data() + 4 * i, 4);
        }
    }
    return v;
}

/* The conversion kernels against the host conversions, both ways. */
static void check_conversions()
{
    for (int k = 0; k < 3; k++) {
        ifs_dtype dt = (ifs_dtype)k;
        vecf v = normal(3000, 0, 100), back(3000);
        vecf rounded = v;
        auto want = elems(dt, rounded);
        std::vector<unsigned char> got(want.size());
        IFS_CHECK(ifs_cuda_from_f32(dt, got.data(), v.data(), 3000, 0) == cudaSuccess, "from_f32");
        IFS_CHECK(ifs_cuda_to_f32(dt, back.data(), got.data(), 3000, 0) == cudaSuccess, "to_f32");
        IFS_CHECK(memcmp(got.data(), want.data(), ifs_cuda_dtype_size(dt) * 3000) == 0 &&
                      back == rounded,
                  "conversion kernels of dtype %d differ from round-to-nearest-even", k);
    }
    printf("ok   conversion kernels round to nearest even like the host, both ways\n");
}

struct tol {
    double atol, rtol;
};
static tol tol_for(ifs_dtype dt, bool attention)
{
    if (dt == IFS_DT_F32) return {1e-4, 1e-4};
    if (dt == IFS_DT_F16) return attention ? tol{4e-3, 4e-3} : tol{3e-3, 2e-3};
    return attention ? tol{3e-2, 2e-2} : tol{2e-2, 1e-2};
}

static void compare(const char *name, const vecf &got, const vecf &ref, tol t)
{
    size_t bad = 0, nonfinite = 0, worst = 0;
    double max_err = 0;
    for (size_t i = 0; i < ref.size(); i++) {
        if (!std::isfinite(got[i])) {
            nonfinite++;
            continue;
        }
        double d = fabs((double)got[i] - ref[i]);
        if (d > t.atol + t.rtol * fabs(ref[i])) bad++;
        if (d > max_err) {
            max_err = d;
            worst = i;
        }
    }
    int faults = ifs_emu::faults.exchange(0);
    IFS_CHECK(faults == 0, "%s: %d emulator rule violations, first: %s", name, faults,
              ifs_emu::fault_msg);
    IFS_CHECK(nonfinite == 0, "%s: %zu outputs NaN/Inf (never written, or a NaN leaked)", name,
              nonfinite);
    IFS_CHECK(bad == 0, "%s: %zu of %zu outside %g + %g|ref| (worst [%zu] got %.7g ref %.7g)", name,
              bad, ref.size(), t.atol, t.rtol, worst, got[worst], ref[worst]);
    printf("%s %-78s max_err=%.3g\n", bad || nonfinite || faults ? "FAIL" : "ok  ", name, max_err);
}

static std::vector<int32_t> offsets(std::initializer_list<int32_t> lens, int32_t *max_len)
{
    std::vector<int32_t> off{0};
    *max_len = 0;
    for (int32_t l : lens) {
        off.push_back(off.back() + l);
        if (l > *max_len) *max_len = l;
    }
    return off;
}

struct attn_case {
    const char *name;
    ifs_dtype dt;
    int hidden, heads, force_generic, cls_only;
    std::initializer_list<int32_t> lens;
};

static void run_attention(const attn_case &c, uint64_t seed)
{
    rng_seed(seed);
    int32_t max_len;
    std::vector<int32_t> off = offsets(c.lens, &max_len);
    const int S = (int)off.size() - 1, T = off.back(), H = c.hidden, D = H / c.heads;
    vecf qkv = normal((size_t)T * 3 * H, 0, 1.5f);
    auto dq = elems(c.dt, qkv);
    const int rows = c.cls_only ? S : T;
    std::vector<unsigned char> dctx(ifs_cuda_dtype_size(c.dt) * rows * H, 0xff);
    cudaError_t e = c.cls_only
                        ? ifs_cuda_attention_cls(c.dt, dctx.data(), dq.data(), off.data(), S, H,
                                                 c.heads, 0)
                        : ifs_cuda_attention(c.dt, dctx.data(), dq.data(), off.data(), S, max_len,
                                             H, c.heads, c.force_generic, 0);
    IFS_CHECK(e == cudaSuccess, "%s: launch failed (%d)", c.name, (int)e);
    vecf got = floats(c.dt, dctx, (size_t)rows * H), ref((size_t)rows * H);
    vecf scratch((size_t)max_len * max_len);
    const int64_t ld = 3 * (int64_t)H;
    if (c.cls_only) {
        for (int s = 0; s < S; s++)
            for (int h = 0; h < c.heads; h++) {
                const float *base = qkv.data() + (int64_t)off[s] * ld;
                ifs_cpu_attention_head(ref.data() + (int64_t)s * H + h * D, H, base + h * D, ld,
                                       base + H + h * D, base + 2 * H + h * D, ld, 1,
                                       off[s + 1] - off[s], D, 1.0f / sqrtf((float)D),
                                       scratch.data());
            }
    } else {
        ifs_cpu_attention(ref.data(), qkv.data(), off.data(), S, H, c.heads, scratch.data());
    }
    compare(c.name, got, ref, tol_for(c.dt, true));
}

static void run_layernorms(ifs_dtype dt, int H, uint64_t seed)
{
    char name[160];
    rng_seed(seed);
    int32_t max_len;
    std::vector<int32_t> off = offsets({1, 7, 30}, &max_len);
    const int S = 3, T = off.back(), V = 50, P = 40;
    vecf word = normal((size_t)V * H, 0, 1), pos = normal((size_t)P * H, 0, 0.5f),
         type = normal(2 * (size_t)H, 0, 0.3f), g = normal(H, 1, 0.1f), b = normal(H, 0, 0.1f);
    auto dw = elems(dt, word), dp = elems(dt, pos), dty = elems(dt, type);
    std::vector<int32_t> ids(T), types(T), posi(T);
    for (int s = 0; s < S; s++)
        for (int t = off[s]; t < off[s + 1]; t++) {
            ids[t] = (int32_t)(rng_u32() % V);
            types[t] = (int32_t)(rng_u32() % 2);
            posi[t] = t - off[s];
        }
    std::vector<unsigned char> dout(ifs_cuda_dtype_size(dt) * T * H);
    IFS_CHECK(ifs_cuda_embed_layernorm(dt, dout.data(), ids.data(), types.data(), posi.data(), T,
                                       dw.data(), dp.data(), dty.data(), g.data(), b.data(), H,
                                       1e-12f, 0) == cudaSuccess, "embed launch");
    vecf ref((size_t)T * H);
    ifs_cpu_embed_layernorm(ref.data(), ids.data(), types.data(), off.data(), S, 0, T, word.data(),
                            pos.data(), type.data(), g.data(), b.data(), H, 1e-12f);
    snprintf(name, sizeof name, "embedding layernorm in %s at hidden %d", dt == IFS_DT_F32 ? "f32" :
             dt == IFS_DT_F16 ? "f16" : "bf16", H);
    compare(name, floats(dt, dout, (size_t)T * H), ref, tol_for(dt, false));

    /* bias + residual + LayerNorm, in place over the residual */
    vecf x = normal((size_t)T * H, 0, 1), res = normal((size_t)T * H, 0.5f, 2), bias = normal(H, 0, 0.3f);
    auto dx = elems(dt, x), dres = elems(dt, res), dbias = elems(dt, bias);
    IFS_CHECK(ifs_cuda_add_bias_residual_layernorm(dt, dres.data(), dx.data(), dbias.data(),
                                                   dres.data(), g.data(), b.data(), T, H, 1e-12f,
                                                   0) == cudaSuccess, "residual layernorm launch");
    ifs_cpu_add_bias_residual_layernorm(ref.data(), x.data(), bias.data(), res.data(), g.data(),
                                        b.data(), T, H, 1e-12f);
    snprintf(name, sizeof name, "bias residual layernorm in place in %s at hidden %d",
             dt == IFS_DT_F32 ? "f32" : dt == IFS_DT_F16 ? "f16" : "bf16", H);
    compare(name, floats(dt, dres, (size_t)T * H), ref, tol_for(dt, false));
}

static void run_bias_act(ifs_dtype dt, int act, uint64_t seed)
{
    rng_seed(seed);
    const int R = 5, N = 1536;
    vecf y = normal((size_t)R * N, 0, 2), bias = normal(N, 0, 0.5f);
    auto dy = elems(dt, y), db = elems(dt, bias);
    IFS_CHECK(ifs_cuda_bias_act(dt, dy.data(), db.data(), R, N, act, 0) == cudaSuccess,
              "bias_act launch");
    ifs_cpu_bias_act(y.data(), N, bias.data(), R, N, act);
    char name[128];
    snprintf(name, sizeof name, "bias and activation %d in %s over %d columns", act,
             dt == IFS_DT_F32 ? "f32" : dt == IFS_DT_F16 ? "f16" : "bf16", N);
    compare(name, floats(dt, dy, (size_t)R * N), y, tol_for(dt, false));
}

static void run_pooler(ifs_dtype dt, int H, int L, uint64_t seed)
{
    rng_seed(seed);
    int32_t max_len;
    std::vector<int32_t> off = offsets({3, 1, 9, 2}, &max_len);
    const int S = 4, T = off.back();
    vecf hs = normal((size_t)T * H, 0, 1), pw = normal((size_t)H * H, 0, 1 / sqrtf((float)H)),
         pb = normal(H, 0, 0.1f), cw = normal((size_t)L * H, 0, 1 / sqrtf((float)H)),
         cb = normal(L, 0, 0.1f);
    auto dhs = elems(dt, hs);
    vecf logits((size_t)S * L), cls((size_t)S * H), ref((size_t)S * L), pooled((size_t)S * H),
        rcls((size_t)S * H);
    IFS_CHECK(ifs_cuda_pooler_classifier(dt, logits.data(), cls.data(), dhs.data(), off.data(), S,
                                         H, pw.data(), pb.data(), cw.data(), cb.data(), L,
                                         0) == cudaSuccess, "pooler launch");
    for (int s = 0; s < S; s++)
        memcpy(rcls.data() + (size_t)s * H, hs.data() + (size_t)off[s] * H, sizeof(float) * H);
    ifs_bert_weights w;
    memset(&w, 0, sizeof w);
    w.cfg.hidden = H;
    w.cfg.num_labels = L;
    w.pool_w = pw.data(); w.pool_b = pb.data(); w.cls_w = cw.data(); w.cls_b = cb.data();
    ifs_cpu_pooler_classifier(ref.data(), pooled.data(), rcls.data(), S, &w);
    char name[128];
    snprintf(name, sizeof name, "pooler and classifier in %s at hidden %d with %d labels",
             dt == IFS_DT_F32 ? "f32" : dt == IFS_DT_F16 ? "f16" : "bf16", H, L);
    compare(name, logits, ref, {1e-4, 1e-4});
    IFS_CHECK(cls == rcls, "%s: the [CLS] rows handed back are not the sequences' first rows", name);

    /* gather of the first rows, packed */
    std::vector<unsigned char> dg(ifs_cuda_dtype_size(dt) * S * H);
    IFS_CHECK(ifs_cuda_gather_cls_rows(dt, dg.data(), dhs.data(), off.data(), S, H, 0) == cudaSuccess,
              "gather launch");
    IFS_CHECK(floats(dt, dg, (size_t)S * H) == rcls, "gather of [CLS] rows in %s is wrong",
              dt == IFS_DT_F32 ? "f32" : "f16/bf16");
}

/* The wmma kernel needs more than 48 KiB of shared memory: without the
 * opt-in its launch must fail (the emulator enforces the driver's rule). */
static void check_launch_rules()
{
    ifs_emu::smem_optin.clear();
    int32_t max_len;
    std::vector<int32_t> off = offsets({5}, &max_len);
    std::vector<unsigned char> q(2 * 5 * 3 * 128 + 16), ctx(2 * 5 * 128 + 16);
    IFS_LAUNCH(dim3(1, 2, 1), 128, attn_smem<64>::BYTES, 0, attention_wmma_kernel<__half, 64>)(
        (__half *)ctx.data(), (const __half *)q.data(), off.data(), 128, 1.0f);
    cudaError_t e = cudaGetLastError();
    IFS_CHECK(e == cudaErrorInvalidConfiguration,
              "a %zu-byte shared-memory launch without the opt-in was not refused",
              attn_smem<64>::BYTES);
    IFS_CHECK(attn_smem<64>::BYTES <= 166912 && attn_smem<32>::BYTES <= 166912,
              "the wmma kernel's shared memory (%zu / %zu bytes) exceeds sm_80's 163 KiB",
              attn_smem<64>::BYTES, attn_smem<32>::BYTES);
    printf("ok   launch rules: %zu-byte wmma tiles need the opt-in the launcher makes\n",
           attn_smem<64>::BYTES);
}

int main()
{
    static const attn_case cases[] = {
        {"wmma attention f16 head dim 32 over 1/17/64/65/130-token sequences", IFS_DT_F16, 64, 2, 0,
         0, {1, 17, 64, 65, 130}},
        {"wmma attention f16 head dim 64 over 1/63/64/129-token sequences", IFS_DT_F16, 128, 2, 0, 0,
         {1, 63, 64, 129}},
        {"wmma attention bf16 head dim 64 over 130/5-token sequences", IFS_DT_BF16, 128, 2, 0, 0,
         {130, 5}},
        {"wmma attention bf16 head dim 32 with 3 heads over one 70-token sequence", IFS_DT_BF16, 96,
         3, 0, 0, {70}},
        {"generic attention f32 head dim 64 over 1/33/100-token sequences", IFS_DT_F32, 128, 2, 0, 0,
         {1, 33, 100}},
        {"generic attention f16 head dim 48 (no wmma path) over 40/3-token sequences", IFS_DT_F16,
         96, 2, 0, 0, {40, 3}},
        {"generic attention forced in f16 at head dim 64 over 2/66-token sequences", IFS_DT_F16, 128,
         2, 1, 0, {2, 66}},
        {"cls-only attention f16 head dim 64 over 1/65/130-token sequences", IFS_DT_F16, 128, 2, 0, 1,
         {1, 65, 130}},
        {"cls-only attention f32 head dim 32 over 3/40-token sequences", IFS_DT_F32, 96, 3, 0, 1,
         {3, 40}},
    };
    check_launch_rules();
    check_conversions();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) run_attention(cases[i], 100 + i);
    run_layernorms(IFS_DT_F32, 384, 1);
    run_layernorms(IFS_DT_F16, 768, 2);
    run_layernorms(IFS_DT_BF16, 160, 3);
    run_bias_act(IFS_DT_F32, IFS_ACT_GELU, 4);
    run_bias_act(IFS_DT_F16, IFS_ACT_GELU_TANH, 5);
    run_bias_act(IFS_DT_BF16, IFS_ACT_RELU, 6);
    run_bias_act(IFS_DT_F16, -1, 7);
    run_pooler(IFS_DT_F32, 384, 2, 8);
    run_pooler(IFS_DT_F16, 128, 3, 9);
    run_pooler(IFS_DT_BF16, 96, 2, 10);
    return ifs_test_done("cuda_emulated");
}
