"""Receive path benchmark: voicecore's jitter buffer against aiortp 0.8's, on the
same netsim traffic, plus the PESQ table of the concealment.

voicecore: ``push`` (parse, validate, store) for every datagram and
``pull_into`` (G.711 decode, concealment, playout) every 20 ms.
aiortp, as roomkit's RTPVoiceBackend receives through it
(``RTPSession._handle_rtp`` with its defaults): ``RtpPacket.parse``,
``StreamStatistics.add``, ``JitterBuffer(capacity=16, prefetch=4).add``,
``PcmuCodec.decode`` and ``PcmConcealer`` for reported losses.

Per-packet cost = round time / packets (``extra_info['packets']``). Read
``min``/``median``; the ratio is between the two rows of one run:

    pytest benchmarks/bench_jitter.py --benchmark-enable --benchmark-min-rounds=20

Concealment cost, the engine's view (``test_conceal_tick``): N buffers fed
the same traffic (so every concealing tick has all N concealing at once, the
worst case of a network stall), pulled once per 20 ms tick without the GIL by
a test-only native helper (tests/native/jitter_tick.pyx). ``mean`` times the
whole call, ``worst`` only the most expensive tick (found by a timed pass);
per frame = time / (N x ticks). With ``--benchmark-enable`` the worst frame
must stay within the targets (2 us at 8 kHz, 10 us at 48 kHz).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

import benchsupport  # noqa: F401  (puts tests/ on sys.path: plc_eval, resample_quality)

from voicecore.jitter import JitterBuffer
from voicecore.testing import netsim as ns

HAVE_AIORTP = importlib.util.find_spec("aiortp") is not None

DURATION_MS = 10_000


def _traffic():
    s = ns.Sender()
    s.talk(DURATION_MS)
    arr = ns.deliver(s.packets, seed=42, base_delay_ms=40, loss=0.02, jitter_ms=4, reorder=0.05,
                     reorder_delay_ms=(10, 30))
    # one event list on one clock: (time, datagram) for arrivals, (time, None) for pulls
    ev = [(a.arrival_ns, a.data) for a in arr]
    ev += [(s.start_ns + k * 20_000_000, None) for k in range(DURATION_MS // 20)]
    ev.sort(key=lambda e: (e[0], e[1] is None))
    return ev, len(arr)


EVENTS, NPACKETS = _traffic()


def _run_voicecore(jb):
    out = bytearray(320)
    push = jb.push
    pull = jb.pull_into
    for t, d in EVENTS:
        if d is None:
            pull(out, t)
        else:
            push(d, t)
    return jb


def _aiortp_session():
    from aiortp.codecs import get_codec
    from aiortp.jitterbuffer import JitterBuffer as AJB
    from aiortp.plc import PcmConcealer
    from aiortp.stats import StreamStatistics

    return AJB(capacity=16, prefetch=4), StreamStatistics(clockrate=8000), get_codec(0), PcmConcealer(8000)


def _run_aiortp(state):
    from aiortp.packet import RtpPacket

    jb, stats, codec, plc = state
    parse = RtpPacket.parse
    delivered = []
    for t, d in EVENTS:
        if d is None:
            continue
        try:
            p = parse(d)
        except ValueError:
            continue
        stats.add(p)
        if p.payload_type == 101:
            jb.mark_non_media(p.sequence_number)
            continue
        _, frame = jb.add(p)
        if frame is not None:
            pcm = codec.decode(frame.data)
            if frame.lost:
                n = frame.lost * plc.frame_samples
                if n:
                    delivered.append(plc.conceal(n))
            plc.update(pcm)
            delivered.append(pcm)
    return delivered


PEERS = ["voicecore"] + (["aiortp"] if HAVE_AIORTP else [])


@pytest.mark.benchmark(group="jitter-receive-path")
@pytest.mark.parametrize("impl", PEERS)
def test_receive_path(benchmark, impl):
    benchmark.extra_info["packets"] = NPACKETS
    benchmark.extra_info["pulls"] = sum(1 for _, d in EVENTS if d is None)
    if impl == "voicecore":
        res = benchmark.pedantic(_run_voicecore, setup=lambda: ((JitterBuffer(),), {}), rounds=20, warmup_rounds=1)
        st = res.stats()
        assert st["received"] + st["duplicates"] + st["late"] == NPACKETS
        assert st["frames_out"] == benchmark.extra_info["pulls"]
    else:
        res = benchmark.pedantic(_run_aiortp, setup=lambda: ((_aiortp_session(),), {}), rounds=20, warmup_rounds=1)
        assert len(res) > 0


# ---------------------------------------------------------------- G.722 and Opus
# The same receive path with each codec on the same network pattern (real
# speech when the clips are fetched): push every datagram, pull_into every
# 20 ms. Peers: decoding the same packets in order, the decode alone (no
# jitter buffer), with voicecore's decoder objects (``_decoder``: so the
# table shows what the buffer adds around the decoder) and with the
# reference decoders (libg722; opuslib, whose ctypes calls cost extra).
CODEC_MS = 10_000
CODEC_PEERS = ["g711", "g722", "opus", "g722_decoder", "opus_decoder", "g722_libg722", "opus_opuslib"]


def _codec_traffic(codec: str):
    import codec_jitter_eval as ev
    from engine_support import speech

    rate = {"g711": 8000, "g722": 16000, "opus": 48000}[codec]
    x = speech(rate, CODEC_MS / 1000)
    if x is None:
        x = ns.speech_like(rate * CODEC_MS // 1000, seed=3, rate=rate)
    if codec == "g711":
        s = ns.Sender(audio=x)
        s.talk(CODEC_MS)
        pk = s.packets
    elif codec == "g722":
        pk = ev.g722_packets(x)
    else:
        pk = ev.opus_packets(x, rate)
    arr = ns.deliver(pk, seed=42, base_delay_ms=40, loss=0.02, jitter_ms=4, reorder=0.05,
                     reorder_delay_ms=(10, 30))
    ev_list = [(a.arrival_ns, a.data) for a in arr]
    t0 = pk[0].send_ns - 20_000_000
    ev_list += [(t0 + k * 20_000_000, None) for k in range(CODEC_MS // 20 + 20)]
    ev_list.sort(key=lambda e: (e[0], e[1] is None))
    return ev_list, len(arr), pk, rate


def _codec_buffer(codec: str, rate: int):
    if codec == "g711":
        return JitterBuffer()
    if codec == "g722":
        return JitterBuffer(clock_rate=16000, payload_types={9: "g722"})
    return JitterBuffer(clock_rate=48000, payload_types={111: "opus"})


def _run_events(jb, events):
    out = bytearray(2 * jb.frame_samples)
    push = jb.push
    pull = jb.pull_into
    for t, d in events:
        if d is None:
            pull(out, t)
        else:
            push(d, t)
    return jb


@pytest.mark.benchmark(group="jitter-codecs")
@pytest.mark.parametrize("impl", CODEC_PEERS)
def test_codec_receive_path(benchmark, impl):
    """Cost per received packet (round time / ``packets``) of each codec
    through the buffer, and of the reference decoder alone on the same
    packets."""
    codec, _, peer = impl.partition("_")
    if codec == "opus":
        from voicecore.media import opus

        if not opus.AVAILABLE:
            pytest.skip(str(opus.UNAVAILABLE_REASON))
    events, npk, packets, rate = _codec_traffic(codec)
    benchmark.extra_info["packets"] = npk
    if not peer:
        res = benchmark.pedantic(_run_events, setup=lambda: ((_codec_buffer(codec, rate), events), {}),
                                 rounds=10, warmup_rounds=1)
        st = res.stats()
        assert st["received"] + st["duplicates"] + st["late"] == npk
        assert st["audio_frames"] > 0.9 * CODEC_MS // 20
    else:
        from codec_refs import libg722_or_skip, opuslib_or_skip

        payloads = [d[12:] for _, d in events if d is not None]
        if peer == "decoder":
            from voicecore.media import g722, opus

            def setup():
                return ((g722.G722Decoder() if codec == "g722" else opus.OpusDecoder(48000)),), {}

            def run(dec):
                for p in payloads:
                    dec.decode(p)
        elif peer == "libg722":
            def setup():
                return (libg722_or_skip(),), {}

            def run(dec):
                for p in payloads:
                    dec.decode(p)
        else:
            lib = opuslib_or_skip()

            def setup():
                return (lib.Decoder(rate, 1),), {}

            def run(dec):
                for p in payloads:
                    dec.decode(p, 960)
        benchmark.pedantic(run, setup=setup, rounds=10, warmup_rounds=1)
    if benchmark.stats is not None:
        benchmark.extra_info["us_per_packet"] = round(benchmark.stats.stats.min / npk * 1e6, 3)


@pytest.mark.models
def test_codec_pesq_table(request, capsys):
    """PESQ WB of G.722 and Opus under loss through the buffer against the
    clean decode of the same packets (tests/codec_jitter_eval.py): G.722 with
    our concealment vs silence substitution; Opus PLC vs silence on a plain
    stream, PLC vs FEC on a stream encoded with FEC for 10 % loss. With
    ``--benchmark-enable`` the full table (4 clips x 3 loss models x 4
    seeds), else beckett at random 10 %, 1 seed."""
    for mod in ("pesq", "scipy"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} not installed (PESQ WB scoring / resampling)")
    import codec_jitter_eval as ev
    from engine_support import speech
    from voicecore.media import opus

    full = _benchmarks_enabled(request.config)
    clips = PESQ_CLIPS if full else PESQ_CLIPS[:1]
    models = list(ev.LOSS) if full else ["random10"]
    seeds = range(PESQ_SEEDS if full else 1)
    codecs = ["g722"] + (["opus"] if opus.AVAILABLE else [])
    rows = []
    for codec in codecs:
        rate = 16000 if codec == "g722" else 48000
        for clip in clips:
            x = speech(rate, 10.0, clip=clip)
            if x is None:
                continue
            t = ev.loss_table(codec, x, models, seeds, rate)
            for model in models:
                cols = [c for c, _, _ in ev.STRATEGIES[codec]]
                rows.append((codec, clip, model, [(c, float(np.mean(t[model, c])), float(np.min(t[model, c])))
                                                  for c in cols]))
    if not rows:
        pytest.skip("speech clips not available")
    with capsys.disabled():
        print(f"\nPESQ WB through the jitter buffer vs the clean decode, {len(seeds)} seeds (mean / min)")
        for codec, clip, model, cells in rows:
            print(f"{codec:<5}{clip:<19}{model:<18}" + "".join(f"{c:>14} {m:.3f} / {n:.2f}" for c, m, n in cells))
    for codec, clip, model, cells in rows:
        v = {c: m for c, m, _ in cells}
        if codec == "g722":
            assert v["ours"] > v["silence"], (clip, model, v)
        else:
            assert v["plc"] > v["silence"] and v["fec"] > v["plc_fecstream"], (clip, model, v)


# ---------------------------------------------------------------- PESQ table
PESQ_CLIPS = ("beckett", "two_cities", "endgame_nagg_nell", "clone-test")
PESQ_SEEDS = 4


def _benchmarks_enabled(config) -> bool:
    return not (config.getoption("benchmark_disable", False) and not config.getoption("benchmark_enable", False))


def test_pesq_table(request, capsys):
    """PESQ NB on real speech: voicecore vs aiortp's fade concealer, frame
    repetition and silence fill, computed in this run on the same loss
    patterns. With ``--benchmark-enable`` the full table (4 clips x 2 loss
    models x 4 seeds); as a plain test (``--benchmark-disable``) a reduced one
    (beckett, 2 seeds) so the suite stays short. The issue's targets are
    asserted per clip: random 10 % >= 3.0, Gilbert-Elliott not below frame
    repetition."""
    for mod in ("pesq", "scipy"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} not installed (PESQ scoring / resampling the speech clips to 8 kHz)")
    import plc_eval

    full = _benchmarks_enabled(request.config)
    clips = [c for c in (PESQ_CLIPS if full else PESQ_CLIPS[:1]) if plc_eval.speech_path(c) is not None]
    if not clips:
        pytest.skip("speech clips not available")
    seeds = range(PESQ_SEEDS if full else 2)
    table = {}
    for clip in clips:
        speech = plc_eval.load_speech_8k(plc_eval.speech_path(clip))
        for model in plc_eval.LOSS_MODELS:
            rows = [plc_eval.evaluate(speech, model, seed) for seed in seeds]
            table[clip, model] = {k: (float(np.mean([r[k] for r in rows])), float(np.min([r[k] for r in rows])))
                                  for k in rows[0]}
    cols = list(next(iter(table.values())))
    with capsys.disabled():
        print(f"\nPESQ NB, 8 kHz mu-law 20 ms, {len(seeds)} seeds per cell (mean / min)")
        print(f"{'clip':<19}{'loss model':<18}" + "".join(f"{c:>16}" for c in cols))
        for (clip, model), row in table.items():
            print(f"{clip:<19}{model:<18}" + "".join(f"{row[c][0]:>9.3f} / {row[c][1]:.2f}" for c in cols))
    for clip in clips:
        assert table[clip, "random10"]["voicecore"][0] >= 3.0, (clip, table[clip, "random10"])
        g = table[clip, "gilbert10_burst3"]
        assert g["voicecore"][0] >= g["frame_repeat"][0], (clip, g)


# ---------------------------------------------------------------- concealment: the worst tick
TICK_SCENARIOS = {
    "loss10": dict(loss=0.10),                                   # single losses: two-sided blend
    "stall": dict(spike_every_ms=1000, spike_ms=200, jitter_ms=1),  # all conceal, then a burst
}
TICK_TARGET_US = {8000: 2.0, 48000: 10.0}
TICK_MS = 4000


@pytest.fixture(scope="module")
def tick_probe():
    for mod in ("Cython", "setuptools"):
        if importlib.util.find_spec(mod) is None:
            pytest.skip(f"{mod} not installed (the native tick helper is built for the benchmark)")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "native"))
    from build import build_probe

    return build_probe("jitter_tick")


def _tick_traffic(rate: int, scenario: str):
    s = ns.Sender(clock_rate=rate, audio=ns.speech_like(rate * 10, seed=3))
    s.talk(TICK_MS)
    s.silence(100)
    arr = ns.deliver(s.packets, seed=3, base_delay_ms=40, **TICK_SCENARIOS[scenario])
    off = np.cumsum([0] + [len(a.data) for a in arr[:-1]]).astype(np.int64)
    ln = np.array([len(a.data) for a in arr], np.int64)
    return (b"".join(a.data for a in arr), off, ln, np.array([a.arrival_ns for a in arr], np.int64),
            s.start_ns, (TICK_MS + 100) // 20)


@pytest.mark.benchmark(group="jitter-conceal-tick")
@pytest.mark.parametrize("which", ["mean", "worst"])
@pytest.mark.parametrize("scenario", list(TICK_SCENARIOS))
@pytest.mark.parametrize("rate", [8000, 48000])
def test_conceal_tick(benchmark, request, capsys, tick_probe, rate, scenario, which):
    full = _benchmarks_enabled(request.config)
    nbuf = 200 if full else 8
    blob, off, ln, arrival, t0, nticks = _tick_traffic(rate, scenario)
    period = 20_000_000

    def fresh():
        return [JitterBuffer(clock_rate=rate) for _ in range(nbuf)]

    # the most expensive tick: a native timed pass (minimum over 3 passes per tick)
    per_tick = np.full(nticks, 1 << 62, np.int64)
    for _ in range(3 if full else 1):
        t = np.zeros(nticks, np.int64)
        tick_probe.run_ticks(fresh(), blob, off, ln, arrival, t0, period, nticks, t)
        per_tick = np.minimum(per_tick, t)
    probe_jb = fresh()[:1]
    all_kinds = np.asarray(ns.run(probe_jb[0], [ns.Arrival(int(a), blob[o:o + n]) for a, o, n in zip(arrival, off, ln)],
                                  start_ns=t0, duration_ms=nticks * 20).kinds[:nticks], dtype=np.int64)
    # the most expensive tick in which every buffer conceals (on a busy machine
    # an audio tick can be the slowest by preemption alone)
    concealing = np.flatnonzero(all_kinds == 1)
    worst = int(concealing[np.argmax(per_tick[concealing])]) if concealing.size else int(np.argmax(per_tick))
    kinds = [int(all_kinds[worst])]
    if which == "mean":
        def setup():
            return (fresh(), blob, off, ln, arrival, t0, period, nticks, np.zeros(nticks, np.int64)), {}
        benchmark.pedantic(tick_probe.run_ticks, setup=setup, rounds=5 if full else 1, warmup_rounds=0)
        frames = nbuf * nticks
    else:
        def setup():
            bufs = fresh()
            t = np.zeros(nticks, np.int64)
            tick_probe.run_ticks(bufs, blob, off, ln, arrival, t0, period, worst, t)   # ticks before
            tick_probe.push_until(bufs, blob, off, ln, arrival, 0, t0 + worst * period)
            return (bufs, t0 + worst * period), {}
        benchmark.pedantic(tick_probe.pull_all, setup=setup, rounds=20 if full else 1, warmup_rounds=0)
        frames = nbuf
    pull_mean_us = per_tick.sum() / (nbuf * nticks) / 1e3
    benchmark.extra_info.update(buffers=nbuf, ticks=nticks, worst_tick=worst, worst_tick_kind=kinds[0],
                                pull_mean_us=round(pull_mean_us, 3))
    if benchmark.stats is not None:
        per_frame_us = benchmark.stats.stats.min / frames * 1e6
        benchmark.extra_info["per_frame_us"] = round(per_frame_us, 3)
        with capsys.disabled():
            what = (f"worst tick {per_frame_us:.2f} us per frame (tick {worst})" if which == "worst" else
                    f"mean {pull_mean_us:.3f} us per pull, {per_frame_us:.3f} us per frame with its pushes")
            print(f"\n  conceal tick {rate} Hz {scenario:7s} N={nbuf}: {what}")
        if which == "worst":
            assert kinds[0] == 1            # the worst tick is a concealing one (FrameKind.CONCEALED)
            assert per_frame_us <= TICK_TARGET_US[rate], (rate, scenario, per_frame_us)
