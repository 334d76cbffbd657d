/* Inner loops of voicecore's polyphase resampler (voicecore/_native/resample.pyx).
 *
 * rs_run_f32 / rs_run_s16 compute consecutive outputs of a polyphase FIR: the
 * output with phase p is the dot product of coefficient row p (stride floats,
 * stride a multiple of 8) with the stride input samples starting at `pos` in
 * the work buffer. After each output, pos/phase advance by M/L input samples
 * (step_int + step_frac/L). A loop stops when the next output would read past
 * `wlen` or when max_out outputs are written.
 *
 * Dispatch: on x86-64 with GCC/Clang an AVX2+FMA build of the loop is chosen
 * at run time when the CPU has it; otherwise SSE (x86-64 baseline), NEON
 * (aarch64), or portable C with 8 independent partial sums (which compilers
 * vectorise at -O3). All variants sum in a fixed order, so a given machine
 * produces identical outputs whatever the chunking.
 */
#ifndef VOICECORE_RESAMPLE_KERNEL_H
#define VOICECORE_RESAMPLE_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <math.h>

#if defined(__x86_64__) || defined(_M_X64)
#  include <immintrin.h>
#  define RS_X86 1
#  if defined(__GNUC__) || defined(__clang__)
#    define RS_AVX2_DISPATCH 1
#  endif
#elif defined(__aarch64__) || defined(_M_ARM64)
#  include <arm_neon.h>
#  define RS_NEON 1
#endif

typedef struct {
    const float *coefs;   /* L rows of `stride` floats */
    ptrdiff_t stride;     /* taps per row, multiple of 8 */
    int64_t L;            /* phases */
    int64_t step_int;     /* M / L */
    int64_t step_frac;    /* M % L */
} rs_filter;

/* float -> s16: scale by 32768, round to nearest (ties to even), saturate, NaN -> 0 */
static inline int16_t rs_f2s16(float v) {
    v *= 32768.0f;
    if (!(v == v)) return 0;
    if (v >= 32767.0f) return 32767;
    if (v <= -32768.0f) return -32768;
#if defined(RS_X86)
    return (int16_t)_mm_cvtss_si32(_mm_set_ss(v));
#else
    return (int16_t)lrintf(v);
#endif
}

/* ---------------------------------------------------------------- dot products */
static inline float rs_dot_generic(const float *c, const float *x, ptrdiff_t n) {
#if defined(RS_X86)
    __m128 a0 = _mm_setzero_ps(), a1 = _mm_setzero_ps();
    for (ptrdiff_t i = 0; i < n; i += 8) {
        a0 = _mm_add_ps(a0, _mm_mul_ps(_mm_load_ps(c + i), _mm_loadu_ps(x + i)));
        a1 = _mm_add_ps(a1, _mm_mul_ps(_mm_load_ps(c + i + 4), _mm_loadu_ps(x + i + 4)));
    }
    a0 = _mm_add_ps(a0, a1);
    a0 = _mm_add_ps(a0, _mm_movehl_ps(a0, a0));
    a0 = _mm_add_ss(a0, _mm_shuffle_ps(a0, a0, 1));
    return _mm_cvtss_f32(a0);
#elif defined(RS_NEON)
    float32x4_t a0 = vdupq_n_f32(0.0f), a1 = vdupq_n_f32(0.0f);
    for (ptrdiff_t i = 0; i < n; i += 8) {
        a0 = vmlaq_f32(a0, vld1q_f32(c + i), vld1q_f32(x + i));
        a1 = vmlaq_f32(a1, vld1q_f32(c + i + 4), vld1q_f32(x + i + 4));
    }
    return vaddvq_f32(vaddq_f32(a0, a1));
#else
    float a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (ptrdiff_t i = 0; i < n; i += 8)
        for (int k = 0; k < 8; k++) a[k] += c[i + k] * x[i + k];
    return ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));
#endif
}

/* ---------------------------------------------------------------- loops */
#define RS_DEFINE_LOOP(NAME, DOT, OUT_T, STORE)                                   \
static ptrdiff_t NAME(const rs_filter *f, const float *work, ptrdiff_t wlen,      \
                      ptrdiff_t *pos_io, int64_t *phase_io, OUT_T *dst,           \
                      ptrdiff_t max_out) {                                        \
    ptrdiff_t pos = *pos_io, n = 0;                                               \
    int64_t phase = *phase_io;                                                    \
    const ptrdiff_t stride = f->stride;                                           \
    const ptrdiff_t last = wlen - stride;   /* largest pos that can be used */    \
    const float *coefs = f->coefs;                                                \
    while (n < max_out && pos <= last) {                                          \
        float acc = DOT(coefs + phase * stride, work + pos, stride);              \
        STORE;                                                                    \
        n++;                                                                      \
        pos += (ptrdiff_t)f->step_int;                                            \
        phase += f->step_frac;                                                    \
        if (phase >= f->L) { phase -= f->L; pos++; }                              \
    }                                                                             \
    *pos_io = pos;                                                                \
    *phase_io = phase;                                                            \
    return n;                                                                     \
}

RS_DEFINE_LOOP(rs_run_f32_generic, rs_dot_generic, float, dst[n] = acc)
RS_DEFINE_LOOP(rs_run_s16_generic, rs_dot_generic, int16_t, dst[n] = rs_f2s16(acc))

#if defined(RS_AVX2_DISPATCH)
/* AVX2+FMA: outputs are computed four at a time (four independent FMA chains,
 * one horizontal reduction for all four); the remaining outputs of a call go
 * one by one through rs_dot_avx2, which uses the same single FMA chain and the
 * same reduction tree, so every output is bit-identical however the stream is
 * chunked. */
__attribute__((target("avx2,fma")))
static inline __m128 rs_reduce4_avx2(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
    __m256 s = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
    return _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
}

__attribute__((target("avx2,fma")))
static inline float rs_dot_avx2(const float *c, const float *x, ptrdiff_t n) {
    __m256 a = _mm256_setzero_ps(), z = _mm256_setzero_ps();
    for (ptrdiff_t i = 0; i < n; i += 8)
        a = _mm256_fmadd_ps(_mm256_load_ps(c + i), _mm256_loadu_ps(x + i), a);
    return _mm_cvtss_f32(rs_reduce4_avx2(a, z, z, z));
}

#define RS_STEP(P, PH) do { P += (ptrdiff_t)f->step_int; PH += f->step_frac; \
                            if (PH >= f->L) { PH -= f->L; P++; } } while (0)

#define RS_DEFINE_LOOP_AVX2(NAME, OUT_T, STORE4, STORE1)                          \
__attribute__((target("avx2,fma")))                                              \
static ptrdiff_t NAME(const rs_filter *f, const float *work, ptrdiff_t wlen,      \
                      ptrdiff_t *pos_io, int64_t *phase_io, OUT_T *dst,           \
                      ptrdiff_t max_out) {                                        \
    ptrdiff_t pos = *pos_io, n = 0;                                               \
    int64_t phase = *phase_io;                                                    \
    const ptrdiff_t stride = f->stride;                                           \
    const ptrdiff_t last = wlen - stride;                                         \
    const float *coefs = f->coefs;                                                \
    while (n + 4 <= max_out) {                                                    \
        ptrdiff_t p1 = pos, p2, p3, p4; int64_t h1 = phase, h2, h3, h4;           \
        RS_STEP(p1, h1); p2 = p1; h2 = h1; RS_STEP(p2, h2);                       \
        p3 = p2; h3 = h2; RS_STEP(p3, h3);                                        \
        if (p3 > last) break;                                                     \
        p4 = p3; h4 = h3; RS_STEP(p4, h4);                                        \
        const float *c0 = coefs + phase * stride, *c1 = coefs + h1 * stride;      \
        const float *c2 = coefs + h2 * stride, *c3 = coefs + h3 * stride;         \
        const float *x0 = work + pos, *x1 = work + p1, *x2 = work + p2, *x3 = work + p3; \
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();                \
        __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();                \
        for (ptrdiff_t i = 0; i < stride; i += 8) {                               \
            a0 = _mm256_fmadd_ps(_mm256_load_ps(c0 + i), _mm256_loadu_ps(x0 + i), a0); \
            a1 = _mm256_fmadd_ps(_mm256_load_ps(c1 + i), _mm256_loadu_ps(x1 + i), a1); \
            a2 = _mm256_fmadd_ps(_mm256_load_ps(c2 + i), _mm256_loadu_ps(x2 + i), a2); \
            a3 = _mm256_fmadd_ps(_mm256_load_ps(c3 + i), _mm256_loadu_ps(x3 + i), a3); \
        }                                                                         \
        __m128 r = rs_reduce4_avx2(a0, a1, a2, a3);                               \
        STORE4;                                                                   \
        n += 4; pos = p4; phase = h4;                                             \
    }                                                                             \
    while (n < max_out && pos <= last) {                                          \
        float acc = rs_dot_avx2(coefs + phase * stride, work + pos, stride);      \
        STORE1;                                                                   \
        n++;                                                                      \
        RS_STEP(pos, phase);                                                      \
    }                                                                             \
    *pos_io = pos;                                                                \
    *phase_io = phase;                                                            \
    return n;                                                                     \
}

RS_DEFINE_LOOP_AVX2(rs_run_f32_avx2, float, _mm_storeu_ps(dst + n, r), dst[n] = acc)
/* Four floats -> s16 exactly as rs_f2s16 does one: NaN -> 0, clamp, round to
 * nearest even (MXCSR default), then a saturating pack. */
__attribute__((target("avx2,fma")))
static inline void rs_store4_s16(int16_t *dst, __m128 r) {
    __m128 v = _mm_mul_ps(r, _mm_set1_ps(32768.0f));
    v = _mm_and_ps(v, _mm_cmpord_ps(v, v));
    v = _mm_min_ps(_mm_max_ps(v, _mm_set1_ps(-32768.0f)), _mm_set1_ps(32767.0f));
    __m128i i = _mm_cvtps_epi32(v);
    _mm_storel_epi64((__m128i *)dst, _mm_packs_epi32(i, i));
}

RS_DEFINE_LOOP_AVX2(rs_run_s16_avx2, int16_t, rs_store4_s16(dst + n, r), dst[n] = rs_f2s16(acc))
#endif

typedef ptrdiff_t (*rs_run_f32_fn)(const rs_filter *, const float *, ptrdiff_t, ptrdiff_t *,
                                   int64_t *, float *, ptrdiff_t);
typedef ptrdiff_t (*rs_run_s16_fn)(const rs_filter *, const float *, ptrdiff_t, ptrdiff_t *,
                                   int64_t *, int16_t *, ptrdiff_t);

/* 1 when the AVX2+FMA loops are used on this CPU. */
static int rs_use_avx2(void) {
#if defined(RS_AVX2_DISPATCH)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

static rs_run_f32_fn rs_pick_f32(int avx2) {
#if defined(RS_AVX2_DISPATCH)
    if (avx2) return rs_run_f32_avx2;
#endif
    (void)avx2;
    return rs_run_f32_generic;
}

static rs_run_s16_fn rs_pick_s16(int avx2) {
#if defined(RS_AVX2_DISPATCH)
    if (avx2) return rs_run_s16_avx2;
#endif
    (void)avx2;
    return rs_run_s16_generic;
}

/* 64-byte aligned allocation that works everywhere (no posix_memalign on
 * Windows): the original pointer is stored just below the aligned block. */
static void *rs_aligned_alloc(size_t nbytes) {
    void *raw = malloc(nbytes + 64 + sizeof(void *));
    if (raw == NULL) return NULL;
    uintptr_t p = ((uintptr_t)raw + sizeof(void *) + 63) & ~(uintptr_t)63;
    ((void **)p)[-1] = raw;
    return (void *)p;
}

static void rs_aligned_free(void *p) {
    if (p != NULL) free(((void **)p)[-1]);
}

/* s16 -> float, x / 32768 (exact) */
static inline void rs_s16_to_f32(const int16_t *src, float *dst, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) dst[i] = (float)src[i] * (1.0f / 32768.0f);
}

#endif
