# Concealment DSP (G.711 Appendix I style): pitch search on the history,
# periodic extension with a fade, an LPC-shaped noise floor, and the two-sided
# blend into a backward extension of the packet after the gap.
#
# Bounded cost (the engine's worst tick is every call concealing at once).
# All analysis runs on an 8 kHz-equivalent signal (sums of r8 = clock_rate /
# 8000 samples) scaled to 12 bits, so its correlations are int16 dot products
# with int32 sums (SSE2 pmaddwd) and its cost does not grow with the rate:
#   erasure start   pitch search (27 dot products of 40-160 samples)
#   next packet     its pitch (44 dot products, on every other sample for the
#                   coarse lags), once per packet
#   first noise     order-10 LPC of the 20 ms before the erasure, once
# Per sample: a periodic copy with a linear gain, the noise filtered at 8 kHz
# (order-10 all-pole, its taps summed as a tree so the recursion's critical
# path is one multiply-add) and linearly interpolated above 8 kHz. Scratch
# lives on the stack in chunks of CH samples. Measured worst frame (N buffers
# concealing in the same tick, benchmarks/bench_jitter.py): about 1.6 us at
# 8 kHz and 7 us at 48 kHz. At 8 kHz the lags found are those of the
# full-precision search but for rare near-ties (PESQ NB within 0.001 on all
# cells); above it the pitch lag is refined to output samples by parabolic
# interpolation.
from libc.math cimport copysign, sqrt
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset
from voicecore._native.media._jitter.decode cimport jb_dec_ahead
from voicecore._native.media._jitter.state cimport JBState, JPlc, JSlot, CODEC_PCMA, F_CONCEAL


cdef enum:
    PW = 160          # analysis window (8 kHz samples: 20 ms)
    PMIN = 40         # pitch lags 5-15 ms (8 kHz samples)
    PMAX = 120
    PLC_REACH8 = 290  # history the analysis reads (8 kHz samples): 284 for the pitch search
    LPC_SRC8 = 170    # 20 ms + the 10 samples of filter memory before it
    CH = 256          # synthesis chunk (stack scratch, so N buffers share one hot cache)


cdef inline int jb_plc_reach(int r8) noexcept nogil:
    """Samples of history before the erasure that the concealment reads: the
    history kept across a shift must be at least this (plus one frame)."""
    return PLC_REACH8 * r8


cdef inline int16_t jb_clip(double v) noexcept nogil:
    """Round half away from zero and saturate to int16 (branch-free)."""
    v = -32768.0 if v < -32768.0 else (32767.0 if v > 32767.0 else v)
    return <int16_t>(v + copysign(0.5, v))


cdef inline void jb_sum8(const int16_t* x, int32_t* out, int n8, int r8) noexcept nogil:
    """``out[i]`` = sum of the r8 samples ``x[i * r8 .. (i + 1) * r8)``: the
    signal at 8 kHz-equivalent resolution (the analyses below are invariant
    to its scale)."""
    cdef int i, j
    cdef int32_t acc
    if r8 == 1:
        for i in range(n8):
            out[i] = x[i]
        return
    for i in range(n8):
        acc = 0
        for j in range(r8):
            acc += x[i * r8 + j]
        out[i] = acc


cdef inline int jb_norm12(const int32_t* x, int16_t* out, int n) noexcept nogil:
    """``x`` scaled by a power of two to below 2**11 in magnitude: products fit
    in 22 bits, so sums of up to 512 of them fit an int32 accumulator (which
    compilers vectorise), at 12 bits of precision relative to the peak.
    Returns the shift."""
    cdef int i, sh = 0
    cdef int32_t m = 0, v
    for i in range(n):
        v = x[i] if x[i] >= 0 else -x[i]
        m = v if v > m else m
    while (m >> sh) >= 2047:
        sh += 1
    for i in range(n):
        out[i] = <int16_t>(x[i] >> sh)
    return sh


cdef inline void jb_norm12_16(const int16_t* x, int16_t* out, int n) noexcept nogil:
    """jb_norm12 of an int16 signal (8 kHz: no sums needed), in int16 arithmetic."""
    cdef int i, sh = 0
    cdef int16_t mx = 0, mn = 0
    cdef int32_t m
    for i in range(n):
        mx = x[i] if x[i] > mx else mx
        mn = x[i] if x[i] < mn else mn
    m = mx if mx > -<int32_t>mn else -<int32_t>mn
    while (m >> sh) >= 2047:
        sh += 1
    for i in range(n):
        out[i] = <int16_t>(x[i] >> sh)


cdef inline int32_t jb_dot(const int16_t* a, const int16_t* b, int n) noexcept nogil:
    """Sum of a[i] * b[i] over 12-bit inputs (see jb_norm12), n <= 512."""
    cdef int32_t acc = 0
    cdef int i
    for i in range(n):
        acc += <int32_t>a[i] * <int32_t>b[i]
    return acc


cdef inline int jb_pitch8(const int16_t* x, double* voicing, double* frac) noexcept nogil:
    """Pitch lag (8 kHz samples, 40-120) of the 12-bit history ending just
    before ``x``: maximum of the normalised autocorrelation of the last 20 ms.
    Coarse search on sums of 4 samples, refined within +-2 lags. ``voicing``
    receives the normalised correlation, ``frac`` the parabolic-interpolation
    offset of the peak (-0.5..0.5; 0 at the search edges)."""
    cdef int nd = (PW + PMAX) // 4 + 1, wd = PW // 4
    cdef int16_t dec[72]
    cdef double sc[5]
    cdef int lag, i, best = PMAX, lo, hi
    cdef int32_t c, e, e0, dc, de
    cdef double score, bestscore = 0.0, bestc = 0.0, beste = 1.0, den
    for i in range(nd):      # newest first, as the lags count back
        dec[i] = <int16_t>((x[-(i + 1) * 4] + x[-(i + 1) * 4 + 1] + x[-(i + 1) * 4 + 2]
                            + x[-(i + 1) * 4 + 3]) >> 2)
    de = jb_dot(dec + PMIN // 4, dec + PMIN // 4, wd)
    for lag in range(PMIN // 4, PMAX // 4 + 1):       # i + lag < nd for every i < wd
        if lag > PMIN // 4:   # slide the lagged window one step back
            de += <int32_t>dec[lag + wd - 1] * dec[lag + wd - 1] - <int32_t>dec[lag - 1] * dec[lag - 1]
        dc = jb_dot(dec, dec + lag, wd)
        if dc > 0 and de > 0:
            score = <double>dc * <double>dc / <double>de
            if score > bestscore:
                bestscore = score
                best = lag * 4
    lo = best - 2 if best - 2 >= PMIN else PMIN
    hi = best + 2 if best + 2 <= PMAX else PMAX
    bestscore = 0.0
    e = jb_dot(x - PW - lo, x - PW - lo, PW)
    for lag in range(lo, hi + 1):
        if lag > lo:          # slide the lagged window one sample back
            e += <int32_t>x[-PW - lag] * x[-PW - lag] - <int32_t>x[-lag] * x[-lag]
        c = jb_dot(x - PW, x - PW - lag, PW)
        sc[lag - lo] = -1.0
        if c > 0 and e > 0:
            score = <double>c * <double>c / <double>e
            sc[lag - lo] = c / sqrt(<double>e)
            if score > bestscore:
                bestscore = score
                best = lag
                bestc = <double>c
                beste = <double>e
    e0 = jb_dot(x - PW, x - PW, PW)
    voicing[0] = bestc / sqrt(beste * e0) if e0 > 0 else 0.0
    frac[0] = 0.0
    i = best - lo
    if lo < best < hi and sc[i - 1] > 0.0 and sc[i + 1] > 0.0:
        den = sc[i - 1] - 2.0 * sc[i] + sc[i + 1]
        if den < 0.0:
            frac[0] = 0.5 * (sc[i - 1] - sc[i + 1]) / den
            if frac[0] > 0.5:
                frac[0] = 0.5
            elif frac[0] < -0.5:
                frac[0] = -0.5
    return best


cdef inline int jb_bpitch8(const int16_t* d, int n, double vmin) noexcept nogil:
    """Pitch lag (8 kHz samples) of the packet after a gap (12-bit, first
    ``n`` <= 160 samples), for the backward extension: maximum of the
    normalised autocorrelation over 5-15 ms lags with at least 5 ms of
    overlap (energies of the overlapping parts from prefix sums), searched at
    every other lag on every other sample and refined within +-1 lag. -1 when the packet is
    unvoiced (best correlation below ``vmin``) or too short."""
    cdef int32_t S[161]
    cdef int16_t ev[80]
    cdef int hi, lo, lag, i, best = -1
    cdef int32_t cc
    cdef double sc, bs = -2.0
    S[0] = 0
    for i in range(n):
        S[i + 1] = S[i] + <int32_t>d[i] * d[i]
    for i in range((n + 1) // 2):
        ev[i] = d[2 * i]
    hi = n - PMIN            # at least 5 ms of overlap
    if hi > PMAX:
        hi = PMAX
    lag = PMIN
    while lag <= hi:          # even lags: the even samples against the even samples lag/2 later
        cc = jb_dot(ev, ev + lag // 2, (n - lag + 1) // 2)
        if cc > 0:
            sc = <double>cc * <double>cc / ((S[n - lag] + 1.0) * (S[n] - S[lag] + 1.0))
            if sc > bs:
                bs = sc
                best = lag
        lag += 2
    if best < 0:
        return -1
    lo = best - 1 if best - 1 >= PMIN else PMIN
    hi = best + 1 if best + 1 <= hi else hi
    bs = -2.0
    for lag in range(lo, hi + 1):
        cc = jb_dot(d, d + lag, n - lag)
        if cc > 0:
            sc = cc / sqrt((S[n - lag] + 1.0) * (S[n] - S[lag] + 1.0))
            if sc > bs:
                bs = sc
                best = lag
    if bs < vmin:
        return -1
    return best


cdef inline void jb_plc_start(JBState* s) noexcept nogil:
    """First sample of an erasure: pitch, overlap-add of the last L samples
    towards one period back, the period to repeat, the noise level."""
    cdef JPlc* c = &s.plc
    cdef int16_t* x = s.hist + s.hist_end
    cdef int P, L, i, r8 = s.r8, W = PW * r8
    cdef double w, voicing = 0.0, frac = 0.0
    cdef int32_t x8[PLC_REACH8]
    cdef int16_t x12[PLC_REACH8]
    cdef int64_t acc = 0
    if r8 == 1:
        jb_norm12_16(x - PLC_REACH8, x12, PLC_REACH8)
    else:
        jb_sum8(x - PLC_REACH8 * r8, x8, PLC_REACH8, r8)
        jb_norm12(x8, x12, PLC_REACH8)
    P = jb_pitch8(x12 + PLC_REACH8, &voicing, &frac)
    if voicing < c.voicing_min:
        P = PW * r8          # unvoiced / noisy: repeat a whole 20 ms instead
    elif r8 > 1:
        P = <int>((P + frac) * r8 + 0.5)
    L = P >> 2
    if L > s.dl:
        L = s.dl
    if L < 1:
        L = 1
    for i in range(L):
        w = (i + 1.0) / (L + 1.0)
        x[i - L] = jb_clip(x[i - L] * (1.0 - w) + x[i - L - P] * w)
    for i in range(W):
        acc += <int32_t>x[i - W] * <int32_t>x[i - W]
    c.noise = sqrt(<double>acc / W) * c.noise_frac
    # the 20 ms before the erasure for the LPC (after the overlap-add)
    if r8 == 1:
        for i in range(LPC_SRC8):
            c.lpc8[i] = x[i - LPC_SRC8]
    else:   # the pitch search's sums, with the samples the overlap-add changed summed again
        memcpy(c.lpc8, x8 + PLC_REACH8 - LPC_SRC8, LPC_SRC8 * sizeof(int32_t))
        i = (L + r8 - 1) // r8
        jb_sum8(x - i * r8, c.lpc8 + LPC_SRC8 - i, i, r8)
    c.lpc_ready = False
    c.n8_prev = 0.0
    c.n8_next = 0.0
    c.nph = 0
    # one period, repeated for the whole erasure: Appendix I widens it to
    # 2 and 3 periods at 10 and 20 ms, which scored lower on PESQ NB on all
    # four clips (see benchmarks/bench_jitter.py) because the output is
    # silent by 60 ms anyway
    memcpy(c.pbuf, x - P, P * sizeof(int16_t))
    c.P = P
    c.L = L
    c.pos = 0
    c.ck = 0
    c.end_left = 0
    c.joined = False
    c.bp_seq = -1
    c.active = True
    s.st.concealment_events += 1


cdef inline void jb_lpc(JPlc* c) noexcept nogil:
    """Order-10 LPC of the 20 ms before the erasure (8 kHz-equivalent,
    Levinson-Durbin), so the noise floor that follows a faded concealment
    has the spectral envelope of the speech before the loss."""
    cdef int16_t x12[LPC_SRC8]
    cdef const int16_t* x = x12 + LPC_SRC8
    cdef int i, k, j
    cdef double r[11]
    cdef double a[11]
    cdef double tmp[11]
    cdef double err, acc, refl
    jb_norm12(c.lpc8, x12, LPC_SRC8)
    for k in range(11):
        r[k] = jb_dot(x - PW + k, x - PW, PW - k)
    for k in range(11):
        a[k] = 0.0
        c.lpc_mem[k] = 0.0
    c.lpc_gain = 0.0
    if r[0] <= 0.0:
        return
    r[0] *= 1.0001
    a[0] = 1.0
    err = r[0]
    for i in range(1, 11):
        acc = r[i]
        for j in range(1, i):
            acc += a[j] * r[i - j]
        refl = -acc / err
        for j in range(i):
            tmp[j] = a[j]
        for j in range(1, i):
            a[j] = tmp[j] + refl * tmp[i - j]
        a[i] = refl
        err *= (1.0 - refl * refl)
        if err <= 0.0:
            return
    for k in range(11):
        c.lpc_a[k] = a[k]
    # white noise of unit RMS through 1/A(z) then has the history's RMS
    c.lpc_gain = sqrt(err / PW) / sqrt(r[0] / PW)


cdef inline double jb_white(JPlc* c) noexcept nogil:
    """Uniform white noise with unit RMS (xorshift32)."""
    c.rng ^= c.rng << 13
    c.rng ^= c.rng >> 17
    c.rng ^= c.rng << 5
    return (<double>c.rng / 2147483648.0 - 1.0) * 1.7320508


cdef inline void jb_gen8(JPlc* c, double* out, int n) noexcept nogil:
    """``n`` (<= CH) samples (8 kHz) of unit-RMS noise with the LPC envelope of
    the speech before the loss: white noise through the order-10 all-pole filter."""
    cdef double y[10 + CH]              # y[0..10) = filter memory, oldest first
    cdef const double* a = c.lpc_a
    cdef double v
    cdef int i, k
    if not c.lpc_ready:
        c.lpc_ready = True
        jb_lpc(c)                       # computed on first use only
    if c.lpc_gain <= 0.0:
        for i in range(n):
            out[i] = jb_white(c)
        return
    for k in range(10):
        y[k] = c.lpc_mem[9 - k]
    for i in range(n):
        # the taps that do not depend on the previous output first, summed
        # as a tree, so the recursion's critical path is one multiply-add
        v = ((a[2] * y[8 + i] + a[3] * y[7 + i]) + (a[4] * y[6 + i] + a[5] * y[5 + i])
             + ((a[6] * y[4 + i] + a[7] * y[3 + i]) + (a[8] * y[2 + i] + a[9] * y[1 + i]) + a[10] * y[i]))
        v = jb_white(c) * c.lpc_gain - v - a[1] * y[9 + i]
        y[10 + i] = v
        out[i] = v
    for k in range(10):
        c.lpc_mem[k] = y[9 + n - k]


cdef inline void jb_noise(JPlc* c, double* out, int n, int r8) noexcept nogil:
    """``n`` output samples of the noise floor shape (unit RMS): the 8 kHz
    noise, linearly interpolated above 8 kHz (gain sqrt(3/2) keeps the RMS of
    white noise through the interpolation)."""
    cdef int i = 0, t, run, need, j0
    cdef double inv = 1.0 / r8, g = 1.2247449, step
    cdef double buf8[CH]
    cdef double* n8 = buf8
    if r8 == 1:
        jb_gen8(c, out, n)
        return
    j0 = (r8 - c.nph) % r8           # outputs until the next 8 kHz sample is due
    need = 0 if j0 >= n else (n - 1 - j0) // r8 + 1
    jb_gen8(c, n8, need)
    while i < n:
        if c.nph == 0:
            c.n8_prev = c.n8_next
            c.n8_next = n8[0]
            n8 += 1
        run = r8 - c.nph
        if run > n - i:
            run = n - i
        step = (c.n8_next - c.n8_prev) * inv
        for t in range(run):
            out[i + t] = (c.n8_prev + step * (c.nph + t)) * g
        c.nph = (c.nph + run) % r8
        i += run


cdef inline void jb_synth(JPlc* c, double* out, int n, int r8) noexcept nogil:
    """The next ``n`` (<= CH) samples of the concealment: the period repeated at full
    level for ``fade_start`` samples of the erasure, then faded linearly to
    zero at ``fade_end``, with the noise floor coming in over the second half
    of the fade and alone after it (or silence when the floor is 0)."""
    cdef int i = 0, t, run, pos, P = c.P, k, q
    cdef double w, fs = c.fade_start, inv = 1.0 / (c.fade_end - c.fade_start)
    cdef double nz[CH]
    while i < n:
        if c.ck >= c.fade_end:
            run = n - i
            if c.noise > 0.0:
                jb_noise(c, out + i, run, r8)
                for t in range(run):
                    out[i + t] *= c.noise
            else:
                memset(out + i, 0, run * sizeof(double))
            c.ck += run
            return
        pos = c.pos
        if c.ck < c.fade_start:
            run = c.fade_start - c.ck
            if run > n - i:
                run = n - i
            t = 0
            while t < run:                    # the period, copied up to each wrap
                k = P - pos if P - pos < run - t else run - t
                for q in range(k):
                    out[i + t + q] = c.pbuf[pos + q]
                t += k
                pos += k
                if pos >= P:
                    pos = 0
        elif c.ck < c.fade_mid or c.noise <= 0.0:
            run = (c.fade_mid if c.noise > 0.0 else c.fade_end) - c.ck
            if run > n - i:
                run = n - i
            t = 0
            while t < run:
                k = P - pos if P - pos < run - t else run - t
                for q in range(k):
                    w = 1.0 - (c.ck + t + q - fs) * inv
                    out[i + t + q] = c.pbuf[pos + q] * w
                t += k
                pos += k
                if pos >= P:
                    pos = 0
        else:
            run = c.fade_end - c.ck
            if run > n - i:
                run = n - i
            jb_noise(c, nz, run, r8)
            t = 0
            while t < run:
                k = P - pos if P - pos < run - t else run - t
                for q in range(k):
                    w = 1.0 - (c.ck + t + q - fs) * inv
                    out[i + t + q] = c.pbuf[pos + q] * w + nz[t + q] * c.noise * (1.0 - 2.0 * w)
                t += k
                pos += k
                if pos >= P:
                    pos = 0
        c.pos = pos
        c.ck += run
        i += run


cdef inline void jb_future(JBState* s, const JSlot* fut) noexcept nogil:
    """The packet after the gap, once per packet: its own pitch period
    (``bp_P``; the forward period when it is unvoiced) and one period of it
    (``fbuf``) whose wrap is smoothed into its natural successor. The packet
    is decoded without disturbing a stateful decoder (decode.pxd)."""
    cdef JPlc* c = &s.plc
    cdef int r8 = s.r8, n = PW * r8, n8, P, k, q, i
    cdef int16_t d16[200 * 6]
    cdef int32_t d8[PW]
    cdef int16_t d12[PW]
    cdef double w
    if fut.ns < n:
        n = fut.ns
    P = n + (n >> 2)                    # decode enough for the wrap smoothing too
    if P > fut.ns:
        P = fut.ns
    jb_dec_ahead(s, fut, d16, P)          # G.722: with a copy of the decoder state
    n8 = n // r8
    if r8 == 1:
        jb_norm12_16(d16, d12, n8)
    else:
        jb_sum8(d16, d8, n8, r8)
        jb_norm12(d8, d12, n8)
    P = jb_bpitch8(d12, n8, c.voicing_min)
    P = c.P if P < 0 else P * r8        # unvoiced: keep the forward period
    c.bp_P = P
    k = 0
    while k < P:                        # the packet, repeated if shorter than a period
        q = P - k if P - k < fut.ns else fut.ns
        memcpy(c.fbuf + k, d16, q * sizeof(int16_t))
        k += q
    if P + (P >> 2) <= fut.ns and P + (P >> 2) <= n + (n >> 2):
        # the period wrap fbuf[P-1] -> fbuf[0] made smooth: fbuf[0..P/4)
        # fades in from packet[P..P+P/4), the natural successor of packet[P-1]
        w = 1.0 / ((P >> 2) + 1.0)
        for k in range(P >> 2):
            c.fbuf[k] = jb_clip(d16[P + k] * (1.0 - (k + 1.0) * w) + c.fbuf[k] * ((k + 1.0) * w))


cdef inline void jb_conceal(JBState* s, int m, JSlot* fut, int64_t gap) noexcept nogil:
    """Synthesise ``m`` samples for missing audio at the end of the history.
    When the packet after the gap (``fut``, starting ``gap`` samples from now)
    is already buffered, the last ``blend_ms`` of the gap cross-fade into a
    backward pitch extension of that packet (two-sided interpolation), so the
    first real frame joins without a second overlap-add."""
    cdef JPlc* c = &s.plc
    cdef int16_t* dst = s.hist + s.hist_end
    cdef int i, i0, n, a, m0, P = 1, BL = c.bl_max, k = 0, q, t
    cdef int64_t j = 0
    cdef bint blend = False
    cdef double w, w0, inv = 1.0
    cdef double syn[CH]
    if s.conceal_on:
        if not c.active:
            jb_plc_start(s)
        if fut != NULL and fut.ns > 0 and BL > 0:
            blend = True
            if BL > gap + c.ck:
                BL = <int>(gap + c.ck)
            if c.bp_seq != fut.seq:
                c.bp_seq = fut.seq
                jb_future(s, fut)
        # forward concealment up to the blend region (sample i has j = gap - i
        # samples to go; the blend covers j <= BL)
        m0 = m
        if blend and gap - BL < m:
            m0 = <int>(gap - BL) if gap - BL > 0 else 0
            P = c.bp_P
            j = gap - m0
            k = P - 1 - <int>((j - 1) % P)
            inv = 1.0 / (BL + 1.0)
        i0 = 0
        while i0 < m:
            n = m - i0 if m - i0 < CH else CH
            jb_synth(c, syn, n, s.r8)
            a = m0 - i0 if m0 - i0 < n else n
            if a < 0:
                a = 0
            for i in range(a):
                dst[i0 + i] = jb_clip(syn[i])
            i = a
            while i < n:
                # blend region: forward concealment -> backward extension of
                # the next packet, in runs up to the wrap of its period
                q = P - k if P - k < n - i else n - i
                w0 = (BL - j + 1.0) * inv
                for t in range(q):
                    w = w0 + t * inv
                    dst[i0 + i + t] = jb_clip(syn[i + t] * (1.0 - w) + c.fbuf[k + t] * w)
                if 1 <= j <= q:
                    c.joined = True        # reached the first sample of the next packet
                j -= q
                k += q
                if k >= P:
                    k = 0
                i += q
            i0 += n
    else:
        memset(dst, 0, m * sizeof(int16_t))
    s.flags |= F_CONCEAL
    s.st.concealed_samples += <uint64_t>m


cdef inline void jb_end_ola(JPlc* c, int16_t* dst, int m, int r8) noexcept nogil:
    """Overlap-add the continued concealment into the first real samples."""
    cdef int i, k, n
    cdef double w
    cdef double syn[CH]
    if m > c.end_left:
        m = c.end_left
    while m > 0:
        n = m if m < CH else CH
        jb_synth(c, syn, n, r8)
        for i in range(n):
            k = c.end_len - c.end_left
            w = (k + 1.0) / (c.end_len + 1.0)
            dst[i] = jb_clip(syn[i] * (1.0 - w) + dst[i] * w)
            c.end_left -= 1
        dst += n
        m -= n
