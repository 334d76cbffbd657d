"""Jitter buffer under network impairment: RELIABILITY.md cases 18-22."""

from __future__ import annotations

import random

import numpy as np
import pytest

from jitter_helpers import F, offset_of, payload_pcm, play
from voicecore.jitter import FrameKind
from voicecore.testing import netsim as ns


def _stream(ms: int, **kw) -> ns.Sender:
    s = ns.Sender(**kw)
    s.talk(ms)
    s.silence(200)          # quiet end of call: the drained buffer is not a loss
    return s


def _drops(n_packets: int, rate: float, seed: int, keep_tail: int = 12) -> list[int]:
    rng = random.Random(seed)
    return [i for i in range(2, n_packets - keep_tail) if rng.random() < rate]


# ---------------------------------------------------------------- 18
@pytest.mark.parametrize("rate", [0.05, 0.20])
def test_18_random_loss_every_received_frame_played(rate):
    s = _stream(20000)
    drop = _drops(len(s.packets), rate, seed=int(rate * 100))
    jb, r = play(s, ns.deliver(s.packets, base_delay_ms=40, drop=drop))
    st = jb.stats()
    assert st["lost"] == len(drop)
    assert st["received"] == len(s.packets) - len(drop)
    assert st["concealed_samples"] == st["lost"] * F          # concealed == lost
    assert st["audio_frames"] == st["received"]              # every received frame played
    assert st["concealed_frames"] == st["lost"]
    assert st["late"] == 0 and st["time_scaled_samples"] == 0
    # received frames away from a loss are bit-exact and in place
    ref = payload_pcm(s.packets)
    d = offset_of(r.pcm, ref)
    lost = np.zeros(len(s.packets), bool)
    lost[drop] = True
    out = r.pcm[d:d + len(ref)].reshape(-1, F)
    want = ref.reshape(-1, F)
    clean = [i for i in range(1, len(want) - 1) if not (lost[i - 1] or lost[i] or lost[i + 1])]
    assert len(clean) > len(want) * (0.4 if rate > 0.1 else 0.8)
    assert np.array_equal(out[clean], want[clean])
    # lost frames are concealed, not silent: energy of a single lost frame
    # stays within 10 dB of the original
    singles = [i for i in range(2, len(want) - 2) if lost[i] and not lost[i - 1] and not lost[i + 1]]
    e_out = np.sqrt(np.mean(out[singles].astype(float) ** 2))
    e_ref = np.sqrt(np.mean(want[singles].astype(float) ** 2))
    assert 0.3 < e_out / e_ref < 3.0


@pytest.mark.parametrize("noise", [0.0, 0.25])
def test_18_concealment_fades_out_by_60ms(noise):
    s = _stream(3000)
    burst = list(range(60, 75))            # 300 ms
    jb, r = play(s, ns.deliver(s.packets, base_delay_ms=40, drop=burst), concealment_noise=noise)
    ref = payload_pcm(s.packets)
    d = offset_of(r.pcm, ref)
    out = r.pcm[d:d + len(ref)].astype(float)
    g0 = 60 * F
    before = np.sqrt(np.mean(out[g0 - F:g0] ** 2))
    early = np.sqrt(np.mean(out[g0:g0 + 80] ** 2))          # first 10 ms: full level
    quiet = out[g0 + 480:g0 + 15 * F - 480]                  # 60 ms in .. 60 ms before the end
    assert early > 0.3 * before
    if noise == 0.0:
        assert np.all(quiet == 0)
    else:
        assert np.sqrt(np.mean(quiet ** 2)) < 0.3 * before
    # the fade itself is monotone in 10 ms steps
    steps = [np.sqrt(np.mean(out[g0 + k * 80:g0 + (k + 1) * 80] ** 2)) for k in range(1, 6)]
    if noise == 0.0:
        assert steps[-1] < steps[0]
    assert jb.stats()["concealment_events"] == 1


# ---------------------------------------------------------------- 19
@pytest.mark.parametrize("burst_ms", [60, 200, 1000, 5000])
def test_19_first_frame_after_burst_on_time(burst_ms):
    s = _stream(burst_ms + 4000)
    n = burst_ms // 20
    burst = list(range(100, 100 + n))
    jb, r = play(s, ns.deliver(s.packets, base_delay_ms=40, drop=burst))
    ref = payload_pcm(s.packets)
    d = offset_of(r.pcm, ref)                   # alignment before the burst
    end = (100 + n) * F
    # the first real frame after the burst is in place (its first 10 ms carry
    # the overlap-add), and everything after it is bit-exact at the old offset
    assert np.array_equal(r.pcm[d + end + 80:d + len(ref)], ref[end + 80:])
    st = jb.stats()
    assert st["lost"] == n and st["late"] == 0 and st["discarded"] == 0


# ---------------------------------------------------------------- 20
@pytest.mark.parametrize("floor", [20, 60])
def test_20_reordering_late_drop_after_adaptation(floor):
    s = _stream(30000)
    arr = ns.deliver(s.packets, base_delay_ms=40, reorder=0.30, reorder_delay_ms=(25, 45), seed=7)
    jb, r = play(s, arr, min_delay_ms=floor)
    # packets are reordered up to 2-3 deep at 20 ms ptime
    idx = [a.packet.seq for a in arr]
    assert sum(1 for a, b in zip(idx, idx[1:]) if ((b - a) & 0xFFFF) > 0x8000) > 300
    at2s = r.trace[100][1]
    end = jb.stats()
    # late: dropped; late_partial: played from the middle (its start concealed)
    late_after = end["late"] - at2s["late"] + end["late_partial"] - at2s["late_partial"]
    packets_after = end["received"] - at2s["received"]
    assert late_after <= 0.01 * packets_after
    assert end["reordered"] > 300
    assert 45 <= end["target_delay_ms"] <= 80


def test_20_deep_reordering_10ms_ptime():
    s = ns.Sender(ptime_ms=10)
    s.talk(20000)
    s.silence(200)
    arr = ns.deliver(s.packets, base_delay_ms=40, reorder=0.30, reorder_delay_ms=(25, 45), seed=8)
    depth, top = 0, None
    for a in arr:
        q = a.packet.seq
        if top is None or ((q - top) & 0xFFFF) < 0x8000:
            top = q
        depth = max(depth, (top - q) & 0xFFFF)
    assert depth >= 4                         # reordered up to 4+ packets deep
    jb, r = play(s, arr, min_delay_ms=20)
    at2s = r.trace[100][1]
    end = jb.stats()
    late_after = end["late"] - at2s["late"] + end["late_partial"] - at2s["late_partial"]
    assert late_after <= 0.01 * (end["received"] - at2s["received"])


# ---------------------------------------------------------------- 21
def _targets(r):
    return np.array([st["target_delay_ms"] for _, st in r.trace])


def test_21_delay_spikes_adapt_and_return():
    s = _stream(30000)
    arr = ns.deliver(s.packets, base_delay_ms=40, spike_every_ms=5000, spike_ms=100, seed=1)
    jb, r = play(s, arr, min_delay_ms=20)
    tg = _targets(r)
    assert tg.max() <= 200
    # every 5 s the freeze pushes the target up; 2 s later it is back near the floor
    for k in range(1, 5):
        t_spike = int((k * 5000 - 1000) / 20)        # spikes hit at 5 s multiples of network time
        window = tg[t_spike:t_spike + 150]
        assert window.max() >= 80, k
    late = jb.stats()["late"]
    for k in range(1, 5):
        peak = int(np.argmax(tg[(k * 250) - 60:(k * 250) + 100])) + (k * 250) - 60
        assert tg[peak + 100] <= 20 + 0.5 * (tg[peak] - 20), (k, tg[peak], tg[peak + 100])
    assert late <= 6 * 5


@pytest.mark.parametrize("cap", [200, 120])
def test_21_jitter_sigma_40_bounded_by_cap(cap):
    s = _stream(20000)
    arr = ns.deliver(s.packets, base_delay_ms=40, jitter_ms=40, spike_every_ms=5000, spike_ms=100, seed=2)
    jb, r = play(s, arr, max_delay_ms=cap)
    tg = _targets(r)
    assert tg.max() <= cap
    cur = np.array([st["current_delay_ms"] for _, st in r.trace])[100:]
    assert cur.max() <= cap + 25
    assert tg[100:].min() >= 60


# ---------------------------------------------------------------- 22
@pytest.mark.parametrize("ppm", [1000, -1000])
def test_22_clock_drift(ppm):
    s = ns.Sender(drift_ppm=ppm)
    s.talk(60000)
    s.silence(200)
    arr = ns.deliver(s.packets, base_delay_ms=40, jitter_ms=2, seed=3)
    jb, r = play(s, arr)
    st = jb.stats()
    first = int(np.flatnonzero(r.kinds == FrameKind.AUDIO)[0])
    body = r.kinds[first:len(r.kinds) - 20]
    assert np.all(body == FrameKind.AUDIO)                 # no suspension, nothing concealed
    assert st["late"] <= 0.001 * st["received"]
    cur = np.array([t["current_delay_ms"] for _, t in r.trace])[first + 50:-20]
    tgt = np.array([t["target_delay_ms"] for _, t in r.trace])[first + 50:-20]
    assert np.all(np.abs(cur - tgt) <= 15)                  # bounded depth
    # 60 s at 1000 ppm = 60 ms = 480 samples to absorb
    assert 300 <= st["time_scaled_samples"] <= 900
