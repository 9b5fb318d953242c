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
static vecf normal(size_t n, float mean, float sd)
{
    vecf v(n);
    for (auto &x : v)
        x = mean + sd * rng_normal();
    return v;
}

/* "Device" arrays are host memory here. Rounds v in place to dt and returns
 * the dt elements (as bytes). Converted on the host (round to nearest even,
 * as the device does; check_conversions runs the conversion kernels). */
static std::vector<unsigned char> elems(ifs_dtype dt, vecf &v)
{
    std::vector<unsigned char> d(ifs_cuda_dtype_size(dt) *
                                 v.size()); /* exact: ASan sees overruns */
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
    if (dt == IFS_DT_F32)
        return {1e-4, 1e-4};
    if (dt == IFS_DT_F16)
        return attention ? tol{4e-3, 4e-3} : tol{3e-3, 2e-3};
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
        if (d > t.atol + t.rtol * fabs(ref[i]))
            bad++;
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
        if (l > *max_len)
            *max_len = l;
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
    cudaError_t e = c.cls_only ? ifs_cuda_attention_cls(c.dt, dctx.data(), dq.data(), off.data(), S,
                                                        H, c.heads, 0)
                               : ifs_cuda_attention(c.dt, dctx.data(), dq.data(), off.data(), S,
                                                    max_len, H, c.heads, c.force_generic, 0);
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

/* A "device" array of n elements of dt that starts `offset` bytes past a
 * 16-byte boundary (0, or one element to make it misaligned for 16-byte
 * vectors), followed by a guard band; everything starts as 0xff bytes (NaN
 * in every dtype), so an element the kernel should write and did not, or
 * a write past the end, shows up. */
struct dev_array {
    std::vector<unsigned char> raw;
    unsigned char *p;
    size_t bytes;
    static const size_t GUARD = 256;
    dev_array(ifs_dtype dt, size_t n, size_t offset)
        : raw(ifs_cuda_dtype_size(dt) * n + GUARD + 32, 0xff)
    {
        bytes = ifs_cuda_dtype_size(dt) * n;
        unsigned char *b = raw.data() + (16 - ((uintptr_t)raw.data() & 15)) % 16;
        p = b + offset;
    }
    void set(ifs_dtype dt, vecf &v) /* rounds v to dt as the device holds it */
    {
        auto e = elems(dt, v);
        memcpy(p, e.data(), e.size());
    }
    vecf get(ifs_dtype dt, size_t n) const
    {
        return floats(dt, std::vector<unsigned char>(p, p + ifs_cuda_dtype_size(dt) * n), n);
    }
    bool guard_intact() const
    {
        for (size_t i = 0; i < GUARD; i++)
            if (p[bytes + i] != 0xff)
                return false;
        return true;
    }
};

static const char *dname(ifs_dtype dt)
{
    return dt == IFS_DT_F32 ? "f32" : dt == IFS_DT_F16 ? "f16" : "bf16";
}

enum { LN_EMBED = 0, LN_RESID = 1 };
enum { LNF_BIAS = 1, LNF_IN_PLACE = 2, LNF_MISALIGNED = 4 };

struct ln_case {
    const char *name;
    int op;
    ifs_dtype dt;
    int dim;
    std::initializer_list<int32_t> lens; /* a ragged batch: rows = tokens */
    int flags;
    int want_warp; /* the kernel the case must take */
};

/* Both LayerNorm ops against the CPU reference: the warp kernel at every
 * NV it instantiates that a BERT width reaches, and the block kernel for
 * widths, alignments and row sizes the warp kernel refuses; rows that do not
 * fill the last block of 4; outputs poisoned first, guards checked after. */
static void run_layernorm_case(const ln_case &c, uint64_t seed)
{
    rng_seed(seed);
    int32_t max_len;
    std::vector<int32_t> off = offsets(c.lens, &max_len);
    const int S = (int)off.size() - 1, T = off.back(), H = c.dim, V = 50, P = 160;
    const ifs_dtype dt = c.dt;
    const size_t n = (size_t)T * H, esz = ifs_cuda_dtype_size(dt);
    const size_t mis = c.flags & LNF_MISALIGNED ? esz : 0;
    vecf g = normal(H, 1, 0.1f), b = normal(H, 0, 0.1f), ref(n);
    dev_array out(dt, n, mis);
    vecf got;
    bool took_warp;
    if (c.op == LN_EMBED) {
        vecf word = normal((size_t)V * H, 0, 1), pos = normal((size_t)P * H, 0, 0.5f),
             type = normal(2 * (size_t)H, 0, 0.3f);
        dev_array dw(dt, word.size(), 0), dp(dt, pos.size(), 0), dty(dt, type.size(), 0);
        dw.set(dt, word);
        dp.set(dt, pos);
        dty.set(dt, type);
        std::vector<int32_t> ids(T), types(T), posi(T);
        for (int s = 0; s < S; s++)
            for (int t = off[s]; t < off[s + 1]; t++) {
                ids[t] = (int32_t)(rng_u32() % V);
                types[t] = (int32_t)(rng_u32() % 2);
                posi[t] = t - off[s];
            }
        const void *ptrs[] = {out.p, dw.p, dp.p, dty.p, g.data(), b.data()};
        took_warp = ifs_cuda_layernorm_uses_warp_kernel(dt, H, ptrs, 6);
        IFS_CHECK(ifs_cuda_embed_layernorm(dt, out.p, ids.data(), types.data(), posi.data(), T,
                                           dw.p, dp.p, dty.p, g.data(), b.data(), H, 1e-12f,
                                           0) == cudaSuccess,
                  "%s: launch", c.name);
        ifs_cpu_embed_layernorm(ref.data(), ids.data(), types.data(), off.data(), S, 0, T,
                                word.data(), pos.data(), type.data(), g.data(), b.data(), H,
                                1e-12f);
        got = out.get(dt, n);
    } else {
        vecf x = normal(n, 0, 1), res = normal(n, 0.5f, 2), bias = normal(H, 0, 0.3f);
        dev_array dx(dt, n, 0), dres(dt, n, mis), dbias(dt, H, 0);
        dx.set(dt, x);
        dres.set(dt, res);
        dbias.set(dt, bias);
        const void *bptr = c.flags & LNF_BIAS ? dbias.p : nullptr;
        dev_array &dst = c.flags & LNF_IN_PLACE ? dres : out;
        const void *ptrs[] = {dst.p, dx.p, bptr, dres.p, g.data(), b.data()};
        took_warp = ifs_cuda_layernorm_uses_warp_kernel(dt, H, ptrs, 6);
        IFS_CHECK(ifs_cuda_add_bias_residual_layernorm(dt, dst.p, dx.p, bptr, dres.p, g.data(),
                                                       b.data(), T, H, 1e-12f, 0) == cudaSuccess,
                  "%s: launch", c.name);
        ifs_cpu_add_bias_residual_layernorm(ref.data(), x.data(),
                                            c.flags & LNF_BIAS ? bias.data() : nullptr, res.data(),
                                            g.data(), b.data(), T, H, 1e-12f);
        got = dst.get(dt, n);
        IFS_CHECK(dst.guard_intact(), "%s: a write past the end of the output", c.name);
    }
    IFS_CHECK(out.guard_intact(), "%s: a write past the end of the output", c.name);
    IFS_CHECK(took_warp == (c.want_warp != 0), "%s: took the %s kernel", c.name,
              took_warp ? "warp" : "block");
    compare(c.name, got, ref, tol_for(dt, false));
}

struct act_case {
    const char *name;
    ifs_dtype dt;
    int n, rows, act;
    int with_bias, misaligned, want_vec;
};

/* bias + activation in place against the CPU reference, both kernels; the
 * output cannot be poisoned in place, so the guard band after it must stay
 * intact and every element must equal act(y + b) of its own input. */
static void run_bias_act_case(const act_case &c, uint64_t seed)
{
    rng_seed(seed);
    const ifs_dtype dt = c.dt;
    const size_t n = (size_t)c.rows * c.n, esz = ifs_cuda_dtype_size(dt);
    vecf y = normal(n, 0, 2), bias = normal(c.n, 0, 0.5f);
    dev_array dy(dt, n, c.misaligned ? esz : 0), db(dt, c.n, 0);
    dy.set(dt, y);
    db.set(dt, bias);
    const void *bp = c.with_bias ? db.p : nullptr;
    const int vec = ifs_cuda_bias_act_uses_vectors(dt, c.n, dy.p, bp);
    IFS_CHECK(ifs_cuda_bias_act(dt, dy.p, bp, c.rows, c.n, c.act, 0) == cudaSuccess, "%s: launch",
              c.name);
    ifs_cpu_bias_act(y.data(), c.n, c.with_bias ? bias.data() : nullptr, c.rows, c.n, c.act);
    IFS_CHECK(vec == c.want_vec, "%s: took the %s kernel", c.name, vec ? "vector" : "scalar");
    IFS_CHECK(dy.guard_intact(), "%s: a write past the end of y", c.name);
    compare(c.name, dy.get(dt, n), y, tol_for(dt, false));
}

/* The static shared memory of a kernel counts against the 48 KiB a launch
 * gets without the opt-in: the block LayerNorm kernel at dim 12288 needs
 * exactly 48 KiB of dynamic memory plus its 132-byte reduction array. */
static void check_static_shared_memory()
{
    const int dim = 12288;
    auto kernel = add_bias_residual_layernorm_block_kernel<float>;
    ifs_emu::smem_optin.erase((const void *)kernel);
    vecf x = normal(dim, 0, 1), r = normal(dim, 0, 1), g = normal(dim, 1, 0.1f),
         b = normal(dim, 0, 0.1f);
    vecf out(dim);
    IFS_LAUNCH(1, 128, sizeof(float) * dim, 0, kernel)
    (out.data(), x.data(), nullptr, r.data(), g.data(), b.data(), dim, 1e-12f);
    IFS_CHECK(cudaGetLastError() == cudaSuccess, "the 48 KiB dynamic launch itself is legal");
    const int faults = ifs_emu::faults.exchange(0);
    IFS_CHECK(faults > 0, "48 KiB of dynamic plus 132 bytes of static shared memory without the "
                          "opt-in was not seen as over the limit");
    printf("%s static shared memory counts toward the launch limit (%s)\n",
           faults ? "ok  " : "FAIL", faults ? ifs_emu::fault_msg : "no fault");

    /* the entry point opts in for such rows and computes them right */
    for (ifs_dtype dt : {IFS_DT_F32, IFS_DT_BF16}) {
        ln_case c{"bias residual layernorm at the largest row (12288) opts in and matches the cpu",
                  LN_RESID,
                  dt,
                  dim,
                  {1, 2},
                  LNF_BIAS,
                  0};
        run_layernorm_case(c, 77);
    }
}

/* A qkv array that is not 16-byte aligned (a caller's view one element in)
 * must not reach the wmma kernel's 16-byte loads: the entry point takes the
 * generic kernel, which gives the same result. */
static void check_misaligned_attention()
{
    rng_seed(5);
    int32_t max_len;
    std::vector<int32_t> off = offsets({1, 40, 70}, &max_len);
    const int S = 3, T = off.back(), H = 128, heads = 2, D = 64;
    for (ifs_dtype dt : {IFS_DT_F16, IFS_DT_BF16}) {
        vecf qkv = normal((size_t)T * 3 * H, 0, 1.5f);
        dev_array dq(dt, qkv.size(), 2), dctx(dt, (size_t)T * H, 0);
        dq.set(dt, qkv);
        IFS_CHECK(!ifs_cuda_attention_uses_tensor_cores(dt, D, dq.p) &&
                      ifs_cuda_attention_uses_tensor_cores(dt, D, nullptr),
                  "a misaligned qkv would be given to the tensor-core kernel");
        IFS_CHECK(ifs_cuda_attention(dt, dctx.p, dq.p, off.data(), S, max_len, H, heads, 0, 0) ==
                      cudaSuccess,
                  "misaligned attention launch");
        vecf ref((size_t)T * H), scratch((size_t)max_len * max_len);
        ifs_cpu_attention(ref.data(), qkv.data(), off.data(), S, H, heads, scratch.data());
        char name[128];
        snprintf(name, sizeof name, "attention in %s over a qkv array one element off 16 bytes",
                 dname(dt));
        IFS_CHECK(dctx.guard_intact(), "%s: a write past the end", name);
        compare(name, dctx.get(dt, (size_t)T * H), ref, tol_for(dt, true));
    }
}

/* The benchmarks' operands: never zero, magnitude in [0.25, 1], both signs,
 * a function of (seed, index) only. */
static void check_fill_random()
{
    for (ifs_dtype dt : {IFS_DT_F32, IFS_DT_F16, IFS_DT_BF16}) {
        const size_t n = 5000;
        dev_array a(dt, n, 0), b(dt, n, 0), c(dt, n, 0);
        IFS_CHECK(ifs_cuda_fill_random(dt, a.p, (int64_t)n, 7, 0) == cudaSuccess &&
                      ifs_cuda_fill_random(dt, b.p, (int64_t)n, 7, 0) == cudaSuccess &&
                      ifs_cuda_fill_random(dt, c.p, (int64_t)n, 8, 0) == cudaSuccess,
                  "fill launch");
        vecf va = a.get(dt, n), vc = c.get(dt, n);
        size_t bad = 0, neg = 0, same_c = 0;
        for (size_t i = 0; i < n; i++) {
            bad += !(fabsf(va[i]) >= 0.25f && fabsf(va[i]) <= 1.0f);
            neg += va[i] < 0;
            same_c += va[i] == vc[i];
        }
        IFS_CHECK(bad == 0 && neg > n / 3 && neg < 2 * n / 3,
                  "%s: %zu values outside +-[0.25, 1], "
                  "%zu of %zu negative",
                  dname(dt), bad, neg, n);
        IFS_CHECK(memcmp(a.p, b.p, a.bytes) == 0 && same_c < n / 10 && a.guard_intact(),
                  "%s: the fill is not a function of (seed, index) alone", dname(dt));
    }
    printf("ok   random fills are never zero, signed, in [0.25, 1] and reproducible per seed\n");
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
                                         0) == cudaSuccess,
              "pooler launch");
    for (int s = 0; s < S; s++)
        memcpy(rcls.data() + (size_t)s * H, hs.data() + (size_t)off[s] * H, sizeof(float) * H);
    ifs_bert_weights w;
    memset(&w, 0, sizeof w);
    w.cfg.hidden = H;
    w.cfg.num_labels = L;
    w.pool_w = pw.data();
    w.pool_b = pb.data();
    w.cls_w = cw.data();
    w.cls_b = cb.data();
    ifs_cpu_pooler_classifier(ref.data(), pooled.data(), rcls.data(), S, &w);
    char name[128];
    snprintf(name, sizeof name, "pooler and classifier in %s at hidden %d with %d labels",
             dt == IFS_DT_F32   ? "f32"
             : dt == IFS_DT_F16 ? "f16"
                                : "bf16",
             H, L);
    compare(name, logits, ref, {1e-4, 1e-4});
    IFS_CHECK(cls == rcls, "%s: the [CLS] rows handed back are not the sequences' first rows",
              name);

    /* gather of the first rows, packed */
    std::vector<unsigned char> dg(ifs_cuda_dtype_size(dt) * S * H);
    IFS_CHECK(ifs_cuda_gather_cls_rows(dt, dg.data(), dhs.data(), off.data(), S, H, 0) ==
                  cudaSuccess,
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
    IFS_LAUNCH(dim3(1, 2, 1), 128, attn_smem<64>::BYTES, 0, attention_wmma_kernel<__half, 64>)
    ((__half *)ctx.data(), (const __half *)q.data(), off.data(), 128, 1.0f);
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
        {"wmma attention f16 head dim 32 over 1/17/64/65/130-token sequences",
         IFS_DT_F16,
         64,
         2,
         0,
         0,
         {1, 17, 64, 65, 130}},
        {"wmma attention f16 head dim 64 over 1/63/64/129-token sequences",
         IFS_DT_F16,
         128,
         2,
         0,
         0,
         {1, 63, 64, 129}},
        {"wmma attention bf16 head dim 64 over 130/5-token sequences",
         IFS_DT_BF16,
         128,
         2,
         0,
         0,
         {130, 5}},
        {"wmma attention bf16 head dim 32 with 3 heads over one 70-token sequence",
         IFS_DT_BF16,
         96,
         3,
         0,
         0,
         {70}},
        {"generic attention f32 head dim 64 over 1/33/100-token sequences",
         IFS_DT_F32,
         128,
         2,
         0,
         0,
         {1, 33, 100}},
        {"generic attention f16 head dim 48 (no wmma path) over 40/3-token sequences",
         IFS_DT_F16,
         96,
         2,
         0,
         0,
         {40, 3}},
        {"generic attention forced in f16 at head dim 64 over 2/66-token sequences",
         IFS_DT_F16,
         128,
         2,
         1,
         0,
         {2, 66}},
        {"cls-only attention f16 head dim 64 over 1/65/130-token sequences",
         IFS_DT_F16,
         128,
         2,
         0,
         1,
         {1, 65, 130}},
        {"cls-only attention f32 head dim 32 over 3/40-token sequences",
         IFS_DT_F32,
         96,
         3,
         0,
         1,
         {3, 40}},
    };
    check_launch_rules();
    check_static_shared_memory();
    check_conversions();
    check_fill_random();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        run_attention(cases[i], 100 + i);
    check_misaligned_attention();
    static const ln_case ln_cases[] = {
        {"embedding layernorm in f32, warp kernel at hidden 384 (3 vectors a lane)",
         LN_EMBED,
         IFS_DT_F32,
         384,
         {1, 7, 30},
         0,
         1},
        {"embedding layernorm in f16, warp kernel at hidden 384 (a ragged last vector column)",
         LN_EMBED,
         IFS_DT_F16,
         384,
         {3, 2},
         0,
         1},
        {"embedding layernorm in bf16, warp kernel at hidden 2048 (8 vectors a lane)",
         LN_EMBED,
         IFS_DT_BF16,
         2048,
         {2, 3},
         0,
         1},
        {"embedding layernorm in f16, block kernel at hidden 100 (not a multiple of 8)",
         LN_EMBED,
         IFS_DT_F16,
         100,
         {1, 5},
         0,
         0},
        {"embedding layernorm in f32, block kernel at hidden 2048 (beyond 8 vectors a lane)",
         LN_EMBED,
         IFS_DT_F32,
         2048,
         {3},
         0,
         0},
        {"embedding layernorm in f16, block kernel for an output one element off 16 bytes",
         LN_EMBED,
         IFS_DT_F16,
         384,
         {2, 3},
         LNF_MISALIGNED,
         0},
        {"bias residual layernorm in f32, warp kernel at hidden 1024 (8 vectors a lane)",
         LN_RESID,
         IFS_DT_F32,
         1024,
         {1, 4},
         LNF_BIAS,
         1},
        {"bias residual layernorm in f16, warp kernel at hidden 768 in place over the residual",
         LN_RESID,
         IFS_DT_F16,
         768,
         {1, 7, 30},
         LNF_BIAS | LNF_IN_PLACE,
         1},
        {"bias residual layernorm in bf16, warp kernel at hidden 160 without bias",
         LN_RESID,
         IFS_DT_BF16,
         160,
         {5, 9},
         0,
         1},
        {"bias residual layernorm in f16, warp kernel at hidden 8 (one vector, most lanes idle)",
         LN_RESID,
         IFS_DT_F16,
         8,
         {3},
         LNF_BIAS,
         1},
        {"bias residual layernorm in f16, warp kernel at hidden 1024 over 37 rows",
         LN_RESID,
         IFS_DT_F16,
         1024,
         {37},
         LNF_BIAS,
         1},
        {"bias residual layernorm in bf16, warp kernel at hidden 1000 (125 vectors) in place",
         LN_RESID,
         IFS_DT_BF16,
         1000,
         {2, 1},
         LNF_BIAS | LNF_IN_PLACE,
         1},
        {"bias residual layernorm in f16, block kernel at hidden 4096",
         LN_RESID,
         IFS_DT_F16,
         4096,
         {2},
         LNF_BIAS,
         0},
        {"bias residual layernorm in f32, block kernel at hidden 390 (not a multiple of 4)",
         LN_RESID,
         IFS_DT_F32,
         390,
         {3, 2},
         LNF_BIAS,
         0},
        {"bias residual layernorm in f16, block kernel for a residual one element off 16 bytes, "
         "in place",
         LN_RESID,
         IFS_DT_F16,
         384,
         {4, 1},
         LNF_BIAS | LNF_IN_PLACE | LNF_MISALIGNED,
         0},
    };
    for (size_t i = 0; i < sizeof ln_cases / sizeof ln_cases[0]; i++)
        run_layernorm_case(ln_cases[i], 200 + i);
    static const act_case act_cases[] = {
        {"bias and exact gelu in f32, vectors over 1536 columns", IFS_DT_F32, 1536, 5, IFS_ACT_GELU,
         1, 0, 1},
        {"bias and tanh gelu in f16, vectors over 1536 columns", IFS_DT_F16, 1536, 5,
         IFS_ACT_GELU_TANH, 1, 0, 1},
        {"bias and relu in bf16, vectors over 4096 columns", IFS_DT_BF16, 4096, 2, IFS_ACT_RELU, 1,
         0, 1},
        {"bias alone in f16, vectors over 1000 columns (a ragged last warp)", IFS_DT_F16, 1000, 3,
         -1, 1, 0, 1},
        {"exact gelu without bias in f16, vectors over 24 columns and 21 rows", IFS_DT_F16, 24, 21,
         IFS_ACT_GELU, 0, 0, 1},
        {"bias and exact gelu in f16, elements over 1003 columns", IFS_DT_F16, 1003, 3,
         IFS_ACT_GELU, 1, 0, 0},
        {"bias and exact gelu in f32, elements over 386 columns", IFS_DT_F32, 386, 4, IFS_ACT_GELU,
         1, 0, 0},
        {"bias and tanh gelu in bf16, elements for y one element off 16 bytes", IFS_DT_BF16, 1536,
         3, IFS_ACT_GELU_TANH, 1, 1, 0},
        {"bias and exact gelu in f16, vectors over 8 columns of 65600 rows (rows walked by the "
         "capped grid)",
         IFS_DT_F16, 8, 65600, IFS_ACT_GELU, 1, 0, 1},
    };
    for (size_t i = 0; i < sizeof act_cases / sizeof act_cases[0]; i++)
        run_bias_act_case(act_cases[i], 300 + i);
    run_pooler(IFS_DT_F32, 384, 2, 8);
    run_pooler(IFS_DT_F16, 128, 3, 9);
    run_pooler(IFS_DT_BF16, 96, 2, 10);
    return ifs_test_done("cuda_emulated");
}
