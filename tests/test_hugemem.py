"""Jitter buffers keep their state and buffers in huge-page chunks
(src/voicecore/_native/vc_hugemem.h): blocks are reused, so memory is bounded
by the peak number of buffers; VOICECORE_HUGEPAGES=0 turns the arena off."""

from __future__ import annotations

import gc
import os
import subprocess
import sys

import pytest

from voicecore._native.media import jitter as J

linux_thp = pytest.mark.skipif(not os.path.exists("/sys/kernel/mm/transparent_hugepage/enabled"),
                               reason="no transparent huge pages on this system")
# the blocks of one PCMU buffer: its state, slots, payload, history, scratch,
# two concealment buffers, delay histogram, probation payload, foreign-SSRC payloads
BLOCKS_PER_BUFFER = 10


def _arena_on() -> bool:
    return os.environ.get("VOICECORE_HUGEPAGES") != "0" and J.memory_stats()["arena_blocks"] > 0


@linux_thp
def test_buffers_live_in_the_arena_and_go_back_to_it():
    keep = J.JitterBuffer()                   # makes sure the arena is in use
    if not _arena_on():
        pytest.skip("arena off (sanitizer build or VOICECORE_HUGEPAGES=0)")
    gc.collect()
    base = J.memory_stats()
    bufs = [J.JitterBuffer() for _ in range(200)]
    st = J.memory_stats()
    assert st["arena_blocks"] - base["arena_blocks"] == 200 * BLOCKS_PER_BUFFER
    assert st["heap_blocks"] == base["heap_blocks"]
    del bufs
    gc.collect()
    assert J.memory_stats()["arena_blocks"] == base["arena_blocks"]
    # 5,000 more create/destroy cycles reuse the freed blocks: no new chunk
    chunks = J.memory_stats()["chunks"]
    for _ in range(25):
        bufs = [J.JitterBuffer() for _ in range(200)]
        del bufs
    assert J.memory_stats()["chunks"] == chunks
    assert J.memory_stats()["arena_blocks"] == base["arena_blocks"]
    del keep


@linux_thp
def test_the_arena_chunks_are_advised_for_huge_pages():
    keep = J.JitterBuffer()
    if not _arena_on():
        pytest.skip("arena off (sanitizer build or VOICECORE_HUGEPAGES=0)")
    # a 32 MiB private anonymous mapping whose flags include hg (MADV_HUGEPAGE)
    chunks, size, ok = 0, 0, False
    with open("/proc/self/smaps") as f:
        for line in f:
            head = line.split()
            if "-" in head[0] and len(head) >= 5:
                lo, hi = (int(x, 16) for x in head[0].split("-"))
                size = hi - lo
            elif head[0] == "VmFlags:" and size == 32 << 20:
                chunks += 1
                ok = ok or "hg" in head[1:]
    assert chunks >= J.memory_stats()["chunks"] >= 1 and ok
    del keep


def test_hugepages_0_uses_the_c_allocator():
    code = ("from voicecore._native.media import jitter as J; b = [J.JitterBuffer() for _ in range(3)];"
            "s = J.memory_stats(); print(s['arena_blocks'], s['heap_blocks'], s['chunks']);"
            "del b; s = J.memory_stats(); print(s['heap_blocks'])")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "VOICECORE_HUGEPAGES": "0"},
                         capture_output=True, text=True, check=True, cwd="/").stdout.split()
    assert out == ["0", str(3 * BLOCKS_PER_BUFFER), "0", "0"]


def test_the_buffers_work_from_either_allocator():
    """The same stream through a buffer from the arena and one from the C
    allocator (another process): the same frames."""
    code = r"""
import struct, sys
from voicecore._native.media import jitter as J
from voicecore.codec import lin2ulaw
b = J.JitterBuffer()
out = []
for i in range(50):
    pcm = struct.pack('<160h', *[((i * 160 + k) * 37) % 20000 - 10000 for k in range(160)])
    pkt = struct.pack('!BBHII', 0x80, 0, 100 + i, 1000 + 160 * i, 7) + lin2ulaw(pcm)
    b.push(pkt, 1_000_000_000 + i * 20_000_000)
    out.append(b.pull(1_000_000_000 + i * 20_000_000 + 10_000_000)[0])
sys.stdout.write(str(b.stats()['audio_frames']) + ' ' + __import__('hashlib').sha256(b''.join(out)).hexdigest())
"""
    res = [subprocess.run([sys.executable, "-c", code], env={**os.environ, "VOICECORE_HUGEPAGES": v},
                          capture_output=True, text=True, check=True, cwd="/").stdout for v in ("1", "0")]
    assert res[0] == res[1]
    frames, digest = res[0].split()
    assert int(frames) >= 40 and len(digest) == 64      # real audio went through
