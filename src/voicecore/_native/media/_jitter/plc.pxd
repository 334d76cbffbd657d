# Concealment DSP (G.711 Appendix I style): pitch search on the history,
# periodic extension with a fade, an LPC-shaped noise floor, and the two-sided
# blend into a backward extension of the packet after the gap.
from libc.math cimport llround, sqrt
from libc.stdint cimport int16_t, int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset
from voicecore._native.media.g711 cimport ulaw_decode_one, alaw_decode_one
from voicecore._native.media._jitter.state cimport JBState, JPlc, JSlot, CODEC_PCMA, F_CONCEAL


cdef inline int16_t jb_clip(double v) noexcept nogil:
    if v >= 32767.0:
        return 32767
    if v <= -32768.0:
        return -32768
    return <int16_t>llround(v)


cdef inline int jb_pitch(const int16_t* x, int r8, double* voicing) noexcept nogil:
    """Pitch period (samples) of the history ending just before ``x``:
    maximum of the normalised autocorrelation over 5-15 ms lags. Coarse search
    on a 4:1 decimated copy (sums of 4 samples), then refined at full rate
    within +-3 samples. ``voicing`` receives the normalised correlation."""
    cdef int W = 160 * r8, pmin = 40 * r8, pmax = 120 * r8
    cdef int D = 4 * r8
    cdef int nd = (W + pmax) // D + 1
    cdef int wd = W // D
    cdef double dec[128]
    cdef int lag, i, j, best = pmax, lo, hi
    cdef int64_t c, e, e0 = 0
    cdef double dc, de, score, bestscore = 0.0, bestc = 0.0, beste = 1.0
    cdef int64_t acc
    if nd > 128:
        nd = 128
    # dec[k] = sum of the D samples ending (k * D) samples before x
    for i in range(nd):
        acc = 0
        for j in range(D):
            acc += x[-(i + 1) * D + j]
        dec[i] = <double>acc
    for lag in range(pmin // D, pmax // D + 1):
        dc = 0.0
        de = 0.0
        for i in range(wd):
            if i + lag >= nd:
                break
            dc += dec[i] * dec[i + lag]
            de += dec[i + lag] * dec[i + lag]
        if dc > 0.0 and de > 0.0:
            score = dc * dc / de
            if score > bestscore:
                bestscore = score
                best = lag * D
    lo = best - 2 if best - 2 >= pmin else pmin
    hi = best + 2 if best + 2 <= pmax else pmax
    bestscore = 0.0
    e = 0
    for i in range(W):
        e += <int32_t>x[i - W - lo] * <int32_t>x[i - W - lo]
    for lag in range(lo, hi + 1):
        if lag > lo:      # slide the lagged window one sample back
            e += <int32_t>x[-W - lag] * <int32_t>x[-W - lag] - <int32_t>x[-lag] * <int32_t>x[-lag]
        c = 0
        for i in range(W):
            c += <int32_t>x[i - W] * <int32_t>x[i - W - lag]
        if c > 0 and e > 0:
            score = <double>c * <double>c / <double>e
            if score > bestscore:
                bestscore = score
                best = lag
                bestc = <double>c
                beste = <double>e
    for i in range(W):
        e0 += <int64_t>x[i - W] * x[i - W]
    voicing[0] = bestc / sqrt(beste * e0) if e0 > 0 else 0.0
    return best


cdef inline void jb_plc_start(JBState* s) noexcept nogil:
    cdef JPlc* c = &s.plc
    cdef int16_t* x = s.hist + s.hist_end
    cdef int P, L, i, r8 = s.r8
    cdef double w, acc, voicing = 0.0
    P = jb_pitch(x, r8, &voicing)
    if voicing < c.voicing_min:
        P = 160 * r8        # unvoiced / noisy: repeat a whole 20 ms instead
    L = P >> 2
    if L > s.dl:
        L = s.dl
    if L < 1:
        L = 1
    for i in range(L):
        w = (i + 1.0) / (L + 1.0)
        x[i - L] = jb_clip(x[i - L] * (1.0 - w) + x[i - L - P] * w)
    acc = 0.0
    for i in range(160 * r8):
        acc += <double>x[i - 160 * r8] * x[i - 160 * r8]
    c.noise = sqrt(acc / (160 * r8)) * c.noise_frac
    memcpy(c.lpcsrc, x - 160 * r8 - 10, (160 * r8 + 10) * sizeof(int16_t))
    c.lpc_ready = False
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


cdef inline void jb_lpc(JPlc* c, const int16_t* x, int r8) noexcept nogil:
    """Order-10 LPC of the last 20 ms (Levinson-Durbin), so the noise floor
    that follows a faded concealment has the spectral envelope of the
    speech before the loss."""
    cdef int W = 160 * r8, i, k, j
    cdef double r[11]
    cdef double a[11]
    cdef double tmp[11]
    cdef double err, acc, refl, g
    cdef int64_t iacc
    for k in range(11):
        iacc = 0
        for i in range(k, W):
            iacc += <int32_t>x[i - W] * <int32_t>x[i - W - k]
        r[k] = <double>iacc
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
    g = sqrt(err / W) / sqrt(r[0] / W)
    c.lpc_gain = g


cdef inline double jb_noise(JPlc* c) noexcept nogil:
    """Uniform white noise with unit RMS (xorshift32)."""
    c.rng ^= c.rng << 13
    c.rng ^= c.rng >> 17
    c.rng ^= c.rng << 5
    return (<double>c.rng / 2147483648.0 - 1.0) * 1.7320508


cdef inline double jb_shaped(JPlc* c, int r8) noexcept nogil:
    """Unit-RMS noise with the LPC envelope of the speech before the loss."""
    cdef double y
    cdef int k
    if not c.lpc_ready:
        c.lpc_ready = True
        jb_lpc(c, c.lpcsrc + 160 * r8 + 10, r8)      # computed on first use only
    if c.lpc_gain <= 0.0:
        return jb_noise(c)
    y = jb_noise(c) * c.lpc_gain
    for k in range(1, 11):
        y -= c.lpc_a[k] * c.lpc_mem[k - 1]
    for k in range(9, 0, -1):
        c.lpc_mem[k] = c.lpc_mem[k - 1]
    c.lpc_mem[0] = y
    return y


cdef inline double jb_synth(JPlc* c, int r8) noexcept nogil:
    cdef double v, w
    if c.ck >= c.fade_end:
        c.ck += 1
        return jb_shaped(c, r8) * c.noise
    v = c.pbuf[c.pos]
    c.pos += 1
    if c.pos >= c.P:
        c.pos = 0
    if c.ck >= c.fade_start:
        w = 1.0 - <double>(c.ck - c.fade_start) / (c.fade_end - c.fade_start)
        v = v * w
        if w < 0.5 and c.noise > 0.0:
            # the noise floor comes in over the second half of the fade
            v += jb_shaped(c, r8) * c.noise * (1.0 - 2.0 * w)
    c.ck += 1
    return v


cdef inline int jb_bpitch(JPlc* c, const uint8_t* fp, int ns, int codec, int r8) noexcept nogil:
    """Pitch period (samples) of the packet after a gap, for the backward
    extension: maximum of the normalised autocorrelation of its first 20 ms
    over 5-15 ms lags (energies from prefix sums), searched on a 2:1
    decimated copy (sums of sample pairs) and refined within +-1 sample at
    full rate. The forward period when the packet is unvoiced (best
    correlation below ``voicing_min``)."""
    cdef int n = 160 * r8, hi, lo, lag, i, best = -1, step
    cdef double* d = c.fbuf + 160 * r8 + 16
    cdef double* S = c.fbuf + 2 * (160 * r8 + 16)
    cdef double cc, sc, bs = -2.0
    if ns < n:
        n = ns
    S[0] = 0.0
    for i in range(n):
        d[i] = alaw_decode_one(fp[i]) if codec == CODEC_PCMA else ulaw_decode_one(fp[i])
        S[i + 1] = S[i] + d[i] * d[i]
    hi = n - 40 * r8           # at least 5 ms of overlap
    if hi > 120 * r8:
        hi = 120 * r8
    lo = 40 * r8
    step = 2 * r8
    # coarse: correlation of every other sample at every other lag
    lag = lo
    while lag <= hi:
        cc = 0.0
        i = 0
        while i < n - lag:
            cc += d[i] * d[i + lag]
            i += step
        if cc > 0.0:
            sc = cc * cc / ((S[n - lag] + 1.0) * (S[n] - S[lag] + 1.0))
            if sc > bs:
                bs = sc
                best = lag
        lag += step
    if best < 0:
        return c.P
    lo = best - step + 1 if best - step + 1 >= 40 * r8 else 40 * r8
    hi = best + step - 1 if best + step - 1 <= hi else hi
    bs = -2.0
    for lag in range(lo, hi + 1):
        cc = 0.0
        for i in range(n - lag):
            cc += d[i] * d[i + lag]
        if cc > 0.0:
            sc = cc / sqrt((S[n - lag] + 1.0) * (S[n] - S[lag] + 1.0))
            if sc > bs:
                bs = sc
                best = lag
    if bs < c.voicing_min:
        return c.P            # unvoiced: keep the forward period (a whole 20 ms when unvoiced too)
    return best


cdef inline void jb_conceal(JBState* s, int m, JSlot* fut, int64_t gap) noexcept nogil:
    """Synthesise ``m`` samples for missing audio at the end of the history.
    When the packet after the gap (``fut``, starting ``gap`` samples from now)
    is already buffered, the last ``blend_ms`` of the gap cross-fade into a
    backward pitch extension of that packet (two-sided interpolation), so the
    first real frame joins without a second overlap-add."""
    cdef JPlc* c = &s.plc
    cdef int16_t* dst = s.hist + s.hist_end
    cdef int i, r, run, P, BL = c.bl_max, k, r8 = s.r8
    cdef int64_t j
    cdef const uint8_t* fp = NULL
    cdef double f, w
    if s.conceal_on:
        if not c.active:
            jb_plc_start(s)
        P = c.P
        if fut != NULL and fut.ns > 0 and BL > 0:
            fp = s.pay + (fut.seq & s.mask) * s.max_payload
            if BL > gap + c.ck:
                BL = <int>(gap + c.ck)
            if c.bp_seq != fut.seq:
                c.bp_seq = fut.seq
                c.bp_P = jb_bpitch(c, fp, fut.ns, fut.codec, r8)
            P = c.bp_P
            # one pitch period of the next packet, decoded once
            for k in range(P):
                if fut.codec == CODEC_PCMA:
                    c.fbuf[k] = alaw_decode_one(fp[k % fut.ns])
                else:
                    c.fbuf[k] = ulaw_decode_one(fp[k % fut.ns])
            if P + (P >> 2) <= fut.ns:
                # the period wrap fbuf[P-1] -> fbuf[0] made smooth: fbuf[0..P/4)
                # fades in from packet[P..P+P/4), the natural successor of packet[P-1]
                for k in range(P >> 2):
                    w = (k + 1.0) / ((P >> 2) + 1.0)
                    if fut.codec == CODEC_PCMA:
                        f = alaw_decode_one(fp[P + k])
                    else:
                        f = ulaw_decode_one(fp[P + k])
                    c.fbuf[k] = f * (1.0 - w) + c.fbuf[k] * w
        i = 0
        while i < m:
            j = gap - i
            if fp == NULL or j > BL:
                run = m - i
                if fp != NULL and j - BL < run:
                    run = <int>(j - BL)
                if c.ck >= c.fade_end and c.noise == 0.0:
                    memset(dst + i, 0, run * sizeof(int16_t))      # faded out: silence
                    c.ck += run
                else:
                    for r in range(run):
                        dst[i + r] = jb_clip(jb_synth(c, r8))
                i += run
                continue
            # blend region: forward concealment -> backward extension of the next packet
            k = P - 1 - <int>((j - 1) % P)
            while i < m:
                j = gap - i
                f = jb_synth(c, r8)
                w = (BL - j + 1.0) / (BL + 1.0)
                dst[i] = jb_clip(f * (1.0 - w) + c.fbuf[k] * w)
                if j == 1:
                    c.joined = True
                k += 1
                if k >= P:
                    k = 0
                i += 1
    else:
        memset(dst, 0, m * sizeof(int16_t))
    s.flags |= F_CONCEAL
    s.st.concealed_samples += <uint64_t>m


cdef inline void jb_end_ola(JPlc* c, int16_t* dst, int m, int r8) noexcept nogil:
    """Overlap-add the continued concealment into the first real samples."""
    cdef int i, k
    cdef double w, syn
    for i in range(m):
        if c.end_left <= 0:
            break
        syn = jb_synth(c, r8)
        k = c.end_len - c.end_left
        w = (k + 1.0) / (c.end_len + 1.0)
        dst[i] = jb_clip(syn * (1.0 - w) + dst[i] * w)
        c.end_left -= 1
