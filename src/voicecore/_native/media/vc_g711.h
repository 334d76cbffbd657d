/* Branch-free G.711 decoders on 16-bit lanes, for compilers to vectorize.
 *
 * Sun g711.c (and so audioop) decodes mu-law as
 *     t = ((mant << 3) + 0x84) << seg;  value = sign ? 0x84 - t : t - 0x84
 * and A-law as
 *     t = (mant << 4) + 8 (seg 0), ((mant << 4) + 0x108) << (seg - 1) (seg > 0).
 * A per-lane variable shift does not exist on 16-bit lanes before AVX-512,
 * so the shift by k (0..7) is done as three masked doublings:
 *     x += x & -(k & 1);  x += 3x & -(k >> 1 & 1);  x += 15x & -(k >> 2 & 1)
 * (times 2, 4 and 16), all uniform 16-bit operations. Bit-exactness with
 * audioop over all 256 codes is checked by the tests.
 *
 * On x86-64 these loops are compiled a second time for AVX2 (16 lanes) and
 * chosen at run time when the CPU has it; with SSE2 alone the 256-entry table
 * look-up in g711.pyx is as fast, so it is used there and on other CPUs.
 */
#ifndef VC_G711_H
#define VC_G711_H
#include <stdint.h>
#include <stddef.h>

static inline int16_t vc_ulaw_decode1(uint8_t code) {
    uint16_t u = (uint16_t)(~code) & 0xFFu;
    uint16_t x = (uint16_t)(((u & 0xFu) << 3) + 0x84u);
    x = (uint16_t)(x + (x & (uint16_t)-(uint16_t)((u >> 4) & 1u)));
    x = (uint16_t)(x + ((uint16_t)(x * 3u) & (uint16_t)-(uint16_t)((u >> 5) & 1u)));
    x = (uint16_t)(x + ((uint16_t)(x * 15u) & (uint16_t)-(uint16_t)((u >> 6) & 1u)));
    int16_t t = (int16_t)(x - 0x84u);
    int16_t s = (int16_t)-(int16_t)(u >> 7);          /* 0 or -1 */
    return (int16_t)((t ^ s) - s);
}

static inline int16_t vc_alaw_decode1(uint8_t code) {
    uint16_t a = (uint16_t)(code ^ 0x55u);
    uint16_t seg = (a >> 4) & 7u;
    uint16_t nz = (uint16_t)(seg != 0);
    uint16_t x = (uint16_t)(((a & 0xFu) << 4) + 8u + (nz << 8));   /* +0x108 when seg > 0 */
    uint16_t k = (uint16_t)(seg - nz);                              /* shift: max(seg - 1, 0) */
    x = (uint16_t)(x + (x & (uint16_t)-(uint16_t)(k & 1u)));
    x = (uint16_t)(x + ((uint16_t)(x * 3u) & (uint16_t)-(uint16_t)((k >> 1) & 1u)));
    x = (uint16_t)(x + ((uint16_t)(x * 15u) & (uint16_t)-(uint16_t)((k >> 2) & 1u)));
    int16_t s = (int16_t)((a >> 7) & 1u) - 1;         /* sign bit set: positive */
    return (int16_t)(((int16_t)x ^ s) - s);
}

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define VC_G711_SIMD_TARGET __attribute__((target("avx2")))
static inline int vc_g711_have_simd(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") ? 1 : 0;
}
#else
#define VC_G711_SIMD_TARGET
static inline int vc_g711_have_simd(void) { return 0; }
#endif

VC_G711_SIMD_TARGET
static void vc_ulaw_decode_simd(const uint8_t *restrict src, int16_t *restrict dst, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) dst[i] = vc_ulaw_decode1(src[i]);
}

VC_G711_SIMD_TARGET
static void vc_alaw_decode_simd(const uint8_t *restrict src, int16_t *restrict dst, ptrdiff_t n) {
    for (ptrdiff_t i = 0; i < n; i++) dst[i] = vc_alaw_decode1(src[i]);
}
#endif
