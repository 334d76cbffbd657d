"""G.722 and Opus through the jitter buffer, on real speech (or a harmonic
signal when the clips are not fetched): the clean path is bit-exact with the
packets decoded in order by the reference decoders (libg722, opuslib), across
sequence and timestamp wraps, reordering, every Opus ptime and output rate;
the RTP clock quirks (G.722's 8 kHz clock for 16 kHz audio, Opus's 48 kHz)
reach the timeline, RTCP and DTMF figures correctly; Opus losses go through
libopus's FEC / PLC. Quality under loss (PESQ WB) is in
test_jitter_codecs_pesq.py; helpers in codec_jitter_eval.py."""

from __future__ import annotations

import struct

import numpy as np
import pytest

import codec_jitter_eval as ev
from engine_support import speech
from voicecore.jitter import FrameKind, JitterBuffer, PushResult
from voicecore.media import opus
from voicecore.testing import netsim as ns

needs_opus = pytest.mark.skipif(not opus.AVAILABLE, reason=str(opus.UNAVAILABLE_REASON))
CODECS = ["g722", pytest.param("opus", marks=needs_opus)]
WRAP = dict(seq0=65500, ts0=(1 << 32) - 30 * 160)      # both wrap within the first 40 packets


def _audio(rate: int, seconds: float = 4.0) -> np.ndarray:
    x = speech(rate, seconds)
    if x is None:
        t = np.arange(int(seconds * rate)) / rate
        x = (3000 * sum(np.sin(2 * np.pi * f * t) / k for k, f in enumerate((140, 280, 560, 1120, 2240), 1)))
        x = (x * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))).astype(np.int16)
    return x


def _packets(codec: str, ptime_ms: int = 20, **kw):
    if codec == "g722":
        return ev.g722_packets(_audio(16000), ptime_ms, **kw), 16000
    return ev.opus_packets(_audio(48000), 48000, ptime_ms, **kw), 48000


def _exact_run(codec, packets, rate, **impair):
    """Run, align on the reference and return (jb, result, aligned output,
    ref) without the last 5 ms: when the stream stops, the concealment that
    follows overlap-adds into the look-back (G.711 Appendix I; not Opus)."""
    ref = ev.reference_decode(codec, packets, rate)
    jb = ev.buffer_for(codec, rate, **impair.pop("jb", {}))
    res, _ = ev.play(jb, packets, **impair)
    d = ev.align(res.pcm, ref)
    n = len(ref) - rate // 200
    return jb, res, res.pcm[d:d + n], ref[:n]


@pytest.mark.parametrize("wrap", [False, True], ids=["plain", "seq_and_ts_wrap"])
@pytest.mark.parametrize("codec", CODECS)
def test_clean_path_bit_exact_with_reference_decoder(codec, wrap):
    pk, rate = _packets(codec, **(WRAP if wrap else {}))
    if wrap:
        assert any(p.seq == 0 for p in pk) and any(p.ts < pk[0].ts for p in pk)
    jb, res, out, ref = _exact_run(codec, pk, rate)
    assert np.array_equal(out, ref)
    st = jb.stats()
    # the stream stops at the end (one concealment event then), nothing before
    assert st["received"] == len(pk) and st["lost"] == 0 and st["concealment_events"] == 1
    assert st["sequence_restarts"] == 0 and st["discarded"] == 0
    assert (res.kinds == FrameKind.AUDIO).sum() >= len(ref) // jb.frame_samples - 1


@pytest.mark.parametrize("codec", CODECS)
def test_reordering_stays_bit_exact(codec):
    """30 % of the packets delayed by 5-40 ms (the first three kept in order,
    so the stream starts at the first packet, as the reference does)."""
    pk, rate = _packets(codec, **WRAP)
    arr = ns.deliver(pk[:3], base_delay_ms=30) + ns.deliver(pk[3:], seed=3, base_delay_ms=30, reorder=0.3,
                                                             reorder_delay_ms=(5, 40))
    arr.sort(key=lambda a: a.arrival_ns)
    jb = ev.buffer_for(codec, rate, min_delay_ms=80)
    res = ns.run(jb, arr, start_ns=ev.T0, duration_ms=4400)
    ref = ev.reference_decode(codec, pk, rate)
    d = ev.align(res.pcm, ref)
    n = len(ref) - rate // 200
    st = jb.stats()
    assert st["reordered"] > 20 and st["late"] == 0 and st["lost"] == 0 and st["discarded"] == 0
    assert np.array_equal(res.pcm[d:d + n], ref[:n])       # each packet decoded once, in sequence order


@needs_opus
@pytest.mark.parametrize("ptime", [5, 10, 20, 40, 60, 120])
@pytest.mark.parametrize("rate", [8000, 16000, 24000, 48000])
def test_opus_every_ptime_and_output_rate_bit_exact(ptime, rate):
    """RFC 7587: 48 kHz RTP timestamps whatever the rate; the timeline scales
    them by rate / 48000 exactly (every Opus frame is a multiple of 2.5 ms).
    Compared from 0.5 s on: with 120 ms packets the first one waits 120 ms
    on probation, so playout starts late and catches up by time scaling."""
    pk = ev.opus_packets(_audio(48000, 3.0), 48000, ptime, **WRAP)
    jb, _, out, ref = _exact_run("opus", pk, rate)
    assert jb.rtp_clock_rate == 48000 and jb.clock_rate == rate and jb.frame_samples == rate // 50
    assert np.array_equal(out[rate // 2:], ref[rate // 2:])
    if ptime <= 60:
        assert np.array_equal(out, ref)
    assert jb.stats()["lost"] == 0


def test_rtp_clock_rates_and_output_delay():
    g = JitterBuffer(clock_rate=16000, payload_types={9: "g722"})
    assert (g.clock_rate, g.rtp_clock_rate, g.frame_samples, g.output_delay_samples) == (16000, 8000, 320, 60)
    assert JitterBuffer().rtp_clock_rate == 8000
    assert JitterBuffer(clock_rate=16000, payload_types={96: "l16"}).rtp_clock_rate == 16000
    if opus.AVAILABLE:
        o = JitterBuffer(clock_rate=16000, payload_types={111: "opus"})
        # libopus conceals on its own: no look-back needed
        assert (o.clock_rate, o.rtp_clock_rate, o.output_delay_samples) == (16000, 48000, 0)


@pytest.mark.parametrize("codec", CODECS)
def test_played_ts_and_jitter_in_rtp_units(codec):
    """played_ts is the RTP timestamp (at the codec's RTP clock) of the first
    sample of the frame just pulled; the A.8 jitter is in RTP units too,
    while jitter_ms is the same figure in ms."""
    pk, rate = _packets(codec, **WRAP)
    jb = ev.buffer_for(codec, rate, min_delay_ms=100)
    ref = ev.reference_decode(codec, pk, rate)
    arr = ns.deliver(pk, seed=5, base_delay_ms=30, jitter_ms=8)
    res = ns.run(jb, arr, start_ns=ev.T0, duration_ms=4200, trace_every=1)
    d = ev.align(res.pcm, ref)
    F, per = jb.frame_samples, jb.rtp_clock_rate / rate
    checked = 0
    for k, (_, st) in enumerate(res.trace):
        j = k * F - d                  # reference sample at the start of frame k
        if 0 <= j < len(ref) and st["time_scaled_samples"] == 0 and st["lost"] == 0:
            assert st["played_ts"] == (WRAP["ts0"] + int(j * per)) % (1 << 32), k
            checked += 1
    assert checked > 50
    st = jb.stats()
    assert st["jitter_ts"] > 0
    assert st["jitter_ts"] == pytest.approx(st["jitter_ms"] * jb.rtp_clock_rate / 1000, abs=1)


def _dtmf(seq, ts, event, dur, end, pt=101):
    return ns.rtp_packet(seq, ts, ev.SSRC, pt, struct.pack("!BBH", event, (0x80 if end else 0) | 10, dur))


@pytest.mark.parametrize("codec,rate,rtp_rate", [("g722", 16000, 8000),
                                                  pytest.param("opus", 48000, 48000, marks=needs_opus),
                                                  pytest.param("opus", 16000, 48000, marks=needs_opus)])
def test_dtmf_duration_in_samples_at_the_output_rate(codec, rate, rtp_rate):
    """RFC 4733 durations count at the RTP clock (8 kHz for G.722: RFC 3551's
    quirk; 48 kHz for Opus); they are reported in samples at clock_rate. A
    long event (over 65535 RTP units, RFC 4733 2.5.1.3 segments) is joined."""
    jb = ev.buffer_for(codec, rate)
    step = rtp_rate // 50
    pk = ev.g722_packets(_audio(16000, 0.2)) if codec == "g722" else ev.opus_packets(_audio(48000, 0.2))
    t = ev.T0
    for p in pk[:4]:
        t += 20_000_000
        jb.push(p.data, t)
    seq, ts = pk[3].seq + 1, pk[3].ts + step
    for i in range(1, 9):                                   # 160 ms digit '5'
        t += 20_000_000
        jb.push(_dtmf(seq, ts, 5, i * step, i == 8), t)
        seq += 1
    jb.pull(t)
    assert jb.pop_dtmf() == [("5", 8 * step * rate // rtp_rate, ts)]
    # a 2 s digit '#' in segments (each at most 65535 RTP units)
    ts2, total, seg_max = ts + 9 * step, 100 * step, 65535 // step * step
    done = 0
    while done < total:
        seg_ts = ts2 + done
        seg = min(seg_max, total - done)
        for k in range(step, seg + 1, step):
            t += 20_000_000
            jb.push(_dtmf(seq, seg_ts, 11, k, done + k == total), t)
            seq += 1
        done += seg
    jb.pull(t)
    assert jb.pop_dtmf() == [("#", total * rate // rtp_rate, ts2)]


def test_g722_takeover_resets_the_decoder():
    """A new sender (SSRC change after the stream stopped) has a fresh
    encoder: its packets decode bit-exact only from a fresh decoder state."""
    a = ev.g722_packets(_audio(16000, 2.0))
    b_audio = _audio(16000, 4.0)[16000:48000]
    b = ev.g722_packets(b_audio, seq0=7000, ts0=999_000)
    shift = a[-1].send_ns - ev.T0 + 20_000_000
    for p in b:
        p.data = p.data[:8] + struct.pack("!I", 0xB0B) + p.data[12:]
        p.send_ns += shift
    jb = ev.buffer_for("g722")
    res, _ = ev.play(jb, a + b)
    ref_b = ev.reference_decode("g722", b)
    d = ev.align(res.pcm, ref_b)
    st = jb.stats()
    assert st["ssrc_switches"] == 1
    tail = slice(1600, len(ref_b))                      # past the join
    assert np.array_equal(res.pcm[d:d + len(ref_b)][tail], ref_b[tail])


def test_g722_lookahead_does_not_disturb_the_decoder():
    """One packet arrives late: concealment starts at its place with the next
    packet already buffered, so the backward extension decodes that packet
    ahead (on a copy of the decoder state); the late packet is then played
    from the middle. Every packet after it is bit-exact with the reference:
    the decoder saw each packet once, in order, from the right state."""
    pk = ev.g722_packets(_audio(16000, 3.0))
    L = 60
    arr = [ns.Arrival(p.send_ns + 30_000_000 + (75_000_000 if i == L else 0), p.data, p) for i, p in enumerate(pk)]
    arr.sort(key=lambda a: a.arrival_ns)
    jb = ev.buffer_for("g722")
    res = ns.run(jb, arr, start_ns=ev.T0, duration_ms=3400)
    st = jb.stats()
    assert st["late_partial"] == 1 and st["concealment_events"] == 1 and st["lost"] == 0
    ref = ev.reference_decode("g722", pk)
    d = ev.align(res.pcm, ref)
    out = res.pcm[d:d + len(ref)]
    after = (L + 2) * 320
    assert np.array_equal(out[after:], ref[after:])
    assert not np.array_equal(out[L * 320:(L + 1) * 320], ref[L * 320:(L + 1) * 320])   # its start concealed


@needs_opus
def test_opus_single_loss_recovered_from_fec_bit_exact():
    """A single lost packet whose successor carries in-band FEC: the buffer
    calls libopus's FEC decode with that packet, then decodes it normally:
    the output equals opuslib doing the same (decode_fec=True)."""
    x = _audio(48000)
    pk = ev.opus_packets(x, 48000, fec=True, loss_percent=10)
    flags = [opus.packet_has_fec(p.data[12:]) for p in pk]
    drop = [i for i in range(40, len(pk) - 2, 37) if flags[i + 1]][:4]
    assert len(drop) >= 2
    import opuslib

    dec = opuslib.Decoder(48000, 1)
    parts = []
    for i, p in enumerate(pk):
        if i in drop:
            parts.append(dec.decode(pk[i + 1].data[12:], 960, decode_fec=True))
        else:
            parts.append(dec.decode(p.data[12:], 960))
    ref = np.frombuffer(b"".join(parts), np.int16)
    jb = ev.buffer_for("opus")
    res, lost = ev.play(jb, pk, drop=drop, extra_ms=0)     # stop before the stream does
    assert lost.sum() == len(drop)
    d = ev.align(res.pcm, ref)
    n = len(res.pcm) - d
    assert n > (drop[-1] + 2) * 960
    assert np.array_equal(res.pcm[d:], ref[:n])
    st = jb.stats()
    assert st["fec_recovered_samples"] == st["concealed_samples"] == 960 * len(drop)
    assert st["concealment_events"] == len(drop) and st["lost"] == len(drop)


@needs_opus
def test_opus_loss_without_fec_is_libopus_plc():
    pk = ev.opus_packets(_audio(48000), 48000, fec=True, loss_percent=10)
    drop = list(range(50, len(pk) - 5, 23))
    jbs = {name: ev.buffer_for("opus", **kw) for name, kw in
           (("fec", {}), ("plc", {"fec": False}), ("off", {"concealment": False}))}
    outs = {}
    for name, jb in jbs.items():
        res, _ = ev.play(jb, pk, drop=drop, extra_ms=0)
        outs[name] = res
        st = jb.stats()
        assert st["concealed_samples"] == 960 * len(drop) and st["lost"] == len(drop)
        assert (res.kinds == FrameKind.CONCEALED).sum() >= len(drop)
    assert jbs["plc"].stats()["fec_recovered_samples"] == jbs["off"].stats()["fec_recovered_samples"] == 0
    assert jbs["fec"].stats()["fec_recovered_samples"] > 0
    ref = ev.reference_decode("opus", pk)
    d = ev.align(outs["off"].pcm, ref)
    # concealment off: silence where packets were lost
    for i in drop:
        assert not outs["off"].pcm[d + i * 960:d + (i + 1) * 960].any()
        seg = outs["plc"].pcm[d + i * 960:d + i * 960 + 480]
        assert np.abs(seg).mean() > 0.05 * np.abs(ref[i * 960 - 960:i * 960]).mean()


@needs_opus
def test_opus_long_outage_fades_to_silence():
    pk = ev.opus_packets(_audio(48000), 48000)
    ref = ev.reference_decode("opus", pk)
    level = np.abs(ref[: len(ref) // 960 * 960].reshape(-1, 960)).mean(axis=1)
    i0 = next(i for i in range(40, len(level)) if level[i - 1] > 1000)  # loud: loss, not a pause
    drop = range(i0, i0 + 30)                   # 600 ms
    jb = ev.buffer_for("opus")
    res, _ = ev.play(jb, pk, drop=drop, extra_ms=0)
    d = ev.align(res.pcm, ref)
    gap = res.pcm[d + i0 * 960:d + (i0 + 30) * 960]
    assert np.abs(gap[:4800]).mean() > 0                       # libopus's PLC first
    assert not gap[200 * 48:].any()                           # silent from 200 ms on
    st = jb.stats()
    assert st["concealed_samples"] == 30 * 960 and st["concealment_events"] == 1
    # the stream resumes: the decoder converges back onto the reference
    a, r = (res.pcm[d + (i0 + 40) * 960:d + (i0 + 80) * 960].astype(float),
            ref[(i0 + 40) * 960:(i0 + 80) * 960].astype(float))
    assert np.corrcoef(a, r)[0, 1] > 0.9


@needs_opus
def test_opus_bad_packets_are_counted_not_decoded():
    jb = ev.buffer_for("opus")
    pk = ev.opus_packets(_audio(48000, 0.5), 48000)
    hdr = pk[0].data[:12]
    bad = hdr + bytes([0x03 | (15 << 3), 0])            # code 3 with 0 frames: not a packet
    assert jb.parse_header(bad)[0] == PushResult.MALFORMED
    empty = hdr
    r, f = jb.parse_header(empty)
    assert r == PushResult.OK and f["payload_len"] == 0


def test_opus_unavailable_names_opus_and_how_to_get_it(monkeypatch):
    from voicecore._native.media import opus as native_opus

    monkeypatch.setattr(native_opus, "AVAILABLE", False)
    monkeypatch.setattr(native_opus, "UNAVAILABLE_REASON", "Opus is unavailable: built without libopus (install ...)")
    with pytest.raises(opus.OpusUnavailableError) as e:
        JitterBuffer(clock_rate=48000, payload_types={111: "opus"})
    msg = str(e.value)
    for w in ("JitterBuffer", "payload_types[111]", "Opus is unavailable", "voicecore.media.opus.require()"):
        assert w in msg
