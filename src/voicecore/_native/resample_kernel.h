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
__attribute__((target("avx2,fma")))
static inline float rs_dot_avx2(const float *c, const float *x, ptrdiff_t n) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    ptrdiff_t i = 0;
    for (; i + 16 <= n; i += 16) {
        a0 = _mm256_fmadd_ps(_mm256_load_ps(c + i), _mm256_loadu_ps(x + i), a0);
        a1 = _mm256_fmadd_ps(_mm256_load_ps(c + i + 8), _mm256_loadu_ps(x + i + 8), a1);
    }
    if (i < n)
        a0 = _mm256_fmadd_ps(_mm256_load_ps(c + i), _mm256_loadu_ps(x + i), a0);
    a0 = _mm256_add_ps(a0, a1);
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a0), _mm256_extractf128_ps(a0, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 1));
    return _mm_cvtss_f32(s);
}
__attribute__((target("avx2,fma"))) RS_DEFINE_LOOP(rs_run_f32_avx2, rs_dot_avx2, float, dst[n] = acc)
__attribute__((target("avx2,fma"))) RS_DEFINE_LOOP(rs_run_s16_avx2, rs_dot_avx2, int16_t, dst[n] = rs_f2s16(acc))
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
