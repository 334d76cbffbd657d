"""Issue 16 figures the repro script cannot give on the pre-fix tree (no late_partial there),
measured the same way on both trees through the public API only:

* mixed frames: pulls whose concealed_samples grew by more than 0 and less than a frame
  (a frame that is part packet audio, part concealment = a packet played partly);
* the genuine SSRC change (case 13): how the second SSRC's packets are played, frames
  concealed around the change, and the gap between the old stream's last audio frame
  and the new stream's first.

    python evidence/repro_extra.py
"""
import struct

import numpy as np

from voicecore.jitter import JitterBuffer
from voicecore.testing import netsim as ns

MS = 1_000_000


def rtp(seq, ts, ssrc, payload):
    return struct.pack("!BBHII", 0x80, 0, seq & 0xFFFF, ts & 0xFFFFFFFF, ssrc) + payload


def drive(arrivals, t0, nframes, frame=160):
    """arrivals: (ns, datagram) sorted; returns per-frame kinds, concealed-sample deltas, pcm, jb, traces."""
    jb = JitterBuffer()
    kinds, dconc, pcm, recv = [], [], [], []
    i, prev = 0, 0
    for f in range(nframes):
        t = t0 + f * 20 * MS
        while i < len(arrivals) and arrivals[i][0] <= t:
            jb.push(arrivals[i][1], arrivals[i][0])
            i += 1
        p, k = jb.pull(t)
        st = jb.stats()
        kinds.append(int(k))
        dconc.append(st["concealed_samples"] - prev)
        prev = st["concealed_samples"]
        recv.append(st["received"])
        pcm.append(p)
    return np.array(kinds), np.array(dconc), pcm, jb, recv


def phase_sweep():
    rng = np.random.default_rng(3)
    pay = [bytes(rng.integers(0, 0x7F, 160, dtype=np.uint8)) for _ in range(1500)]
    ev = [(i * 20 * MS + 30 * MS + (50 * MS if i % 10 == 5 else 0), rtp(1000 + i, 160 * i, 0xAAAA, pay[i]))
          for i in range(1500)]
    ev.sort(key=lambda e: e[0])
    print("pull-phase sweep (every 10th packet +50 ms, 30 s; frames 250-1480 counted):")
    for ph in (1, 10, 15, 19):
        k, d, _, jb, _ = drive(ev, ph * MS + 1, 1510)
        sl = slice(250, 1480)
        st = jb.stats()
        print(f"  phase {ph:2d} ms: concealed frames {int((k[sl] == 1).sum())}, mixed frames "
              f"{int(((d[sl] > 0) & (d[sl] < 160)).sum())}, late {st['late']}, lost {st['lost']}, "
              f"late_partial {st.get('late_partial', '-')}, target {st['target_delay_ms']:.0f} ms")


def call_60s():
    s = ns.Sender()
    s.talk(60000)
    s.silence(200)
    arr = ns.deliver(s.packets, seed=11, base_delay_ms=40, loss=0.07, reorder=0.25, reorder_delay_ms=(20, 60),
                     jitter_ms=5)
    ev = sorted(((a.arrival_ns, a.data) for a in arr), key=lambda e: e[0])
    print("60 s call, 7 % loss, 25 % delayed 20-60 ms, jitter 5 ms (after the first 2 s):")
    for ph in (0, 10, 19):
        k, d, _, jb, recv = drive(ev, s.start_ns + ph * MS, 3010)
        sl = slice(100, 3010)
        mixed = int(((d[sl] > 0) & (d[sl] < 160)).sum())
        st = jb.stats()
        after = recv[-1] - recv[99]
        print(f"  phase {ph:2d} ms: mixed frames {mixed} ({100.0 * mixed / after:.1f} % of the {after} packets "
              f"stored), concealed frames {int((k[sl] == 1).sum())}, late {st['late']}, lost {st['lost']}, "
              f"late_partial {st.get('late_partial', '-')}, target {st['target_delay_ms']:.0f} ms")


def genuine_change():
    print("genuine SSRC change (old SSRC stops, new continues; base delay 40 ms, jitter 0/4/8 ms):")
    for jit in (0, 4, 8):
        for seed in range(3):
            s = ns.Sender(audio=ns.speech_like(80000, seed=seed))
            s.talk(1500)
            n_old = len(s.packets)
            s.restart(ssrc=0xDEADBEEF, seq=40000, ts=99)
            s.talk(1500)
            s.silence(120)
            arr = ns.deliver(s.packets, base_delay_ms=40, jitter_ms=jit, seed=seed)
            ev = sorted(((a.arrival_ns, a.data) for a in arr), key=lambda e: e[0])
            k, d, pcm, jb, _ = drive(ev, s.start_ns, 3300)
            out = np.frombuffer(b"".join(pcm), np.int16)
            def played(pk):
                r = ns.ulaw_decode(pk.data[12:]).tobytes()
                return out.tobytes().find(r) >= 0
            new_pk = s.packets[n_old:]
            new_played = sum(played(p) for p in new_pk)
            old_played = sum(played(p) for p in s.packets[:n_old])
            change_frame = 1500 // 20
            win = slice(change_frame - 5, change_frame + 20)
            st = jb.stats()
            print(f"  jitter {jit} seed {seed}: switches {st['ssrc_switches']}, new-SSRC packets played whole "
                  f"{new_played}/{len(new_pk)} (first 5: {[played(p) for p in new_pk[:5]]}), old {old_played}/{n_old}, "
                  f"concealed frames around the change {int((k[win] == 1).sum())} (samples {int(d[win].sum())}), "
                  f"foreign_ssrc {st['foreign_ssrc']}, takeover_packets {st.get('takeover_packets', '-')}")


phase_sweep()
call_60s()
genuine_change()
