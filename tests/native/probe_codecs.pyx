# Test-only: cimports the G.722, Opus and SRTP cdef APIs from the installed
# .pxd files and drives them inside `with nogil` the way the engine will
# (tests/test_codecs_native.py). Compiled without VC_HAVE_OPUS/VC_HAVE_SRTP,
# so the shim headers' no-library branches are compiled here too.
from libc.stdint cimport int16_t, uint8_t, uint64_t
from libc.string cimport memcpy
from voicecore._native.media.g722 cimport G722Encoder, G722Decoder
from voicecore._native.media.opus cimport (
    OpusEncoder, OpusDecoder, OpusDecStats, OPUS_MAX_SAMPLES_48K, OPUS_MAX_PACKET,
)
from voicecore._native.media.srtp cimport (
    SRTPSession, SRTPStats, SRTP_OK, SRTP_E_AUTH, SRTP_E_REPLAY, SRTP_E_TOO_SHORT, SRTP_E_NO_ROOM,
    SRTP_MAX_OVERHEAD,
)

cdef extern from "vc_opus.h" nogil:
    int VC_OPUS_AVAILABLE
    int vc_opus_decode(void* d, const unsigned char* data, int len, int16_t* pcm, int frame_size, int fec)
cdef extern from "vc_srtp.h" nogil:
    int VC_SRTP_AVAILABLE
    int vc_srtp_protect(void* s, uint8_t* buf, int len, int cap, int use_mki)


def stub_headers():
    """What the shim headers give without the libraries: (available flags, codes)."""
    cdef int16_t pcm[16]
    cdef uint8_t buf[200]
    return (VC_OPUS_AVAILABLE, VC_SRTP_AVAILABLE,
            vc_opus_decode(NULL, NULL, 0, pcm, 16, 0), vc_srtp_protect(NULL, buf, 20, 200, 0))


def g722_roundtrip(G722Encoder enc, G722Decoder dec, const int16_t[::1] pcm, int chunk):
    """Adopt both, encode + decode in chunks without the GIL, return the PCM
    and whether the Python methods refused while adopted."""
    cdef Py_ssize_t n = pcm.shape[0], i, m
    codes = bytearray(n // 2)
    out = bytearray(2 * n)
    cdef uint8_t[::1] c = codes
    cdef int16_t[::1] o = memoryview(out).cast("h")
    enc.engine_adopt()
    dec.engine_adopt()
    refused = []
    for f in (lambda: enc.encode(b"\x00" * 4), lambda: dec.decode(b"\x00"), enc.reset, dec.reset):
        try:
            f()
            refused.append(False)
        except RuntimeError as e:
            refused.append("owned by an Engine's I/O thread" in str(e))
    try:
        enc.engine_adopt()
        refused.append(False)
    except RuntimeError as e:
        refused.append("already owned" in str(e))
    with nogil:
        i = 0
        while i < n:
            m = chunk if n - i > chunk else n - i
            enc.encode_c(&pcm[i], m, &c[i // 2])
            dec.decode_c(&c[i // 2], m // 2, &o[i])
            i += m
        enc.engine_release()
        dec.engine_release()
    return bytes(codes), bytes(out), refused, enc.bit_rate


def opus_cycle(OpusEncoder enc, OpusDecoder dec, const int16_t[::1] pcm, int frame, int lose_every):
    """Encode frames, "lose" every lose_every-th packet and recover it with
    fec_c from the next one (plc_c when it carries no FEC), all nogil.
    Returns (pcm out, packets with FEC, decoder stats, result codes seen)."""
    cdef Py_ssize_t n = pcm.shape[0], i
    cdef int k = 0, r, nb, nfec = 0, worst = 0
    cdef uint8_t pk[2][OPUS_MAX_PACKET]
    cdef int plen[2]
    cdef int cur = 0
    cdef int out_frame = frame * dec.sample_rate // enc.sample_rate
    out = bytearray(2 * (n // frame) * out_frame)
    cdef int16_t[::1] o = memoryview(out).cast("h")
    cdef int16_t* w
    enc.engine_adopt()
    dec.engine_adopt()
    with nogil:
        # packet k is decoded when packet k+1 exists (one packet of look-ahead,
        # the way a jitter buffer holding the next packet can use its FEC)
        plen[0] = enc.encode_c(&pcm[0], frame, pk[0], OPUS_MAX_PACKET)
        k = 1
        while (k + 1) * frame <= n:
            plen[k & 1] = enc.encode_c(&pcm[k * frame], frame, pk[k & 1], OPUS_MAX_PACKET)
            w = &o[(k - 1) * out_frame]
            nb = dec.packet_has_fec_c(pk[k & 1], plen[k & 1])
            if lose_every > 0 and (k - 1) % lose_every == lose_every - 1:
                if nb == 1:
                    nfec += 1
                    r = dec.fec_c(pk[k & 1], plen[k & 1], w, out_frame)
                else:
                    r = dec.plc_c(w, out_frame)
            else:
                r = dec.decode_c(pk[(k - 1) & 1], plen[(k - 1) & 1], w, out_frame)
            if r != out_frame:
                worst = r if r < worst else (worst if worst < 0 else -999)
            k += 1
        enc.engine_release()
        dec.engine_release()
    st = dec.stats_c()[0]
    return bytes(out[: 2 * (k - 1) * out_frame]), nfec, st, worst


def srtp_cycle(SRTPSession tx, SRTPSession rx, list packets, bint tamper_last):
    """Protect each packet with tx and unprotect it with rx (nogil, in place,
    one buffer per packet); replay the first at the end. Returns the result
    codes and the recovered packets."""
    cdef uint8_t buf[1600]
    cdef int n, r
    codes = []
    outs = []
    tx.engine_adopt()
    rx.engine_adopt()
    try:
        rx.unprotect(b"x" * 20)
        codes.append("python allowed")
    except RuntimeError:
        codes.append("python refused")
    first = None
    for j, p in enumerate(packets):
        n = len(p)
        memcpy(buf, <const char*>p, n)
        with nogil:
            r = tx.protect_rtp_c(buf, n, sizeof(buf))
        if first is None:
            first = bytes(buf[:r])
        if tamper_last and j == len(packets) - 1:
            buf[n // 2] ^= 1
        with nogil:
            r = rx.unprotect_rtp_c(buf, r)
        codes.append(r if r < 0 else SRTP_OK)
        outs.append(bytes(buf[:r]) if r > 0 else None)
    n = len(first)
    memcpy(buf, <const char*>first, n)
    cdef int r1, r2, r3
    with nogil:
        r1 = rx.unprotect_rtp_c(buf, n)
        r2 = rx.unprotect_rtp_c(buf, 5)
        r3 = tx.protect_rtp_c(buf, 100, 100 + SRTP_MAX_OVERHEAD - 1)
        tx.engine_release()
        rx.engine_release()
    codes += [r1, r2, r3]
    st = rx.stats_c()[0]
    return codes, outs, st, (SRTP_E_AUTH, SRTP_E_REPLAY, SRTP_E_TOO_SHORT, SRTP_E_NO_ROOM)


# ---------------------------------------------------------------- benchmark loops
# `iters` calls of one nogil API without the GIL, as the engine makes them
# (benchmarks/bench_codecs.py divides the time by iters).
def loop_g722_encode(G722Encoder enc, const int16_t[::1] pcm, int iters):
    cdef uint8_t out[4096]
    cdef int i
    with nogil:
        for i in range(iters):
            enc.encode_c(&pcm[0], pcm.shape[0], out)


def loop_g722_decode(G722Decoder dec, const uint8_t[::1] data, int iters):
    cdef int16_t out[8192]
    cdef int i
    with nogil:
        for i in range(iters):
            dec.decode_c(&data[0], data.shape[0], out)


def loop_opus_encode(OpusEncoder enc, const int16_t[::1] pcm, int iters):
    cdef uint8_t out[OPUS_MAX_PACKET]
    cdef int i
    with nogil:
        for i in range(iters):
            enc.encode_c(&pcm[0], <int>pcm.shape[0], out, OPUS_MAX_PACKET)


def loop_opus_decode(OpusDecoder dec, const uint8_t[::1] data, int iters):
    cdef int16_t out[OPUS_MAX_SAMPLES_48K]
    cdef int i
    with nogil:
        for i in range(iters):
            dec.decode_c(&data[0], data.shape[0], out, OPUS_MAX_SAMPLES_48K)


def loop_srtp(SRTPSession tx, SRTPSession rx, const uint8_t[::1] rtp, int iters, int first_seq, bint unprotect):
    """Protect (and unprotect) iters packets, sequence numbers first_seq..;
    returns the next sequence number and the number of failures."""
    cdef uint8_t buf[1600]
    cdef int i, n = rtp.shape[0], r, fails = 0, seq = first_seq
    with nogil:
        for i in range(iters):
            memcpy(buf, &rtp[0], n)
            buf[2] = (seq >> 8) & 0xFF
            buf[3] = seq & 0xFF
            seq = (seq + 1) & 0xFFFF
            r = tx.protect_rtp_c(buf, n, sizeof(buf))
            if r < 0:
                fails += 1
            elif unprotect:
                if rx.unprotect_rtp_c(buf, r) < 0:
                    fails += 1
    return seq, fails
