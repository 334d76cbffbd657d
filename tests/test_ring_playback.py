"""PlaybackReference: what a backend needs for roomkit's
``feeds_aec_reference``, ``supports_playback_callback`` and ``on_audio_played``,
driven from the rings."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest
from vc_support import requires_roomkit

from voicecore.ring import PlaybackReference, PlayedFrame

RATE = 8000
F = 160
MS = 1_000_000


def frame(k: int, n: int = F) -> bytes:
    return ((np.arange(n) * 5 + 101 * k) % 9000 + 1).astype(np.int16).tobytes()


async def test_on_audio_played_delivers_played_frames_on_the_loop():
    pr = PlaybackReference(RATE, epoch_ns=0, frame_factory=PlayedFrame)
    assert pr.supports_playback_callback is True
    assert pr.feeds_aec_reference is False  # no transport-level canceller
    got: list[tuple[object, PlayedFrame, bool]] = []
    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_played(session, f):
        got.append((session, f, threading.current_thread() is threading.main_thread()))
        if f.metadata["playback_ended"]:
            loop.call_soon(done.set)

    unsubscribe = pr.on_audio_played(on_played)
    session = object()
    pr.attach(session)

    def sender():  # the audio I/O thread: 3 whole frames, then a truncated one
        for k in range(3):
            pr.record_sent(frame(k), k * 20 * MS, k * F)
        pr.record_sent(frame(3, 50), 3 * 20 * MS, 3 * F, ended=True)

    await loop.run_in_executor(None, sender)
    await asyncio.wait_for(done.wait(), 5)
    assert [f.data for _, f, _ in got] == [frame(0), frame(1), frame(2), frame(3, 50)]
    assert all(s is session and on_loop for s, _, on_loop in got)
    assert [f.metadata["played_bytes"] for _, f, _ in got] == [320, 320, 320, 100]
    assert [f.metadata["playback_ended"] for _, f, _ in got] == [False, False, False, True]
    assert [f.metadata["rtp_timestamp"] for _, f, _ in got] == [0, F, 2 * F, 3 * F]
    assert all(f.sample_rate == RATE for _, f, _ in got)
    # the reference ring holds the same samples at their send times
    out = bytearray(2 * F)
    for k in range(3):
        pr.reference_into(k * 20 * MS, out)
        assert bytes(out) == frame(k)
    unsubscribe()
    unsubscribe()  # idempotent
    pr.record_sent(frame(9), 10 * 20 * MS, 10 * F)
    await asyncio.sleep(0.05)
    assert len(got) == 4  # unsubscribed: nothing more
    pr.close()


def test_transport_level_canceller_gets_the_aligned_reference():
    seen: list[tuple[bytes, bytes]] = []

    def canceller(capture: bytes, reference: bytes) -> bytes:
        seen.append((capture, reference))
        c = np.frombuffer(capture, np.int16).astype(np.int32)
        r = np.frombuffer(reference, np.int16).astype(np.int32)
        return np.clip(c - r, -32768, 32767).astype(np.int16).tobytes()

    pr = PlaybackReference(RATE, echo_delay_ms=60.0, canceller=canceller, epoch_ns=0)
    assert pr.feeds_aec_reference is True
    for k in range(10):
        if k != 4:  # one frame never sent (a pause)
            pr.record_sent(frame(k), k * 20 * MS, k * F)
    for k in range(12):
        echo = frame(k) if k < 10 and k != 4 else bytes(2 * F)
        near = (np.frombuffer(echo, np.int16) + np.int16(3)).tobytes()  # echo + a near-end signal
        cleaned = pr.cancel(near, k * 20 * MS + 60 * MS)
        assert np.all(np.frombuffer(cleaned, np.int16) == 3), k
    s = pr.stats()
    assert s["frames_processed"] == s["read_frames"] == 12
    assert s["silence_samples"] == 3 * F  # frame 4 and the two after the end
    with pytest.raises(ValueError, match="no canceller"):
        PlaybackReference(RATE).cancel(b"\x00\x00", 0)
    pr.close()


def test_played_queue_is_bounded_and_counts_drops():
    pr = PlaybackReference(RATE, queue_frames=4, epoch_ns=0)
    for k in range(10):  # nobody attached: drop-oldest
        pr.record_sent(frame(k), k * 20 * MS, k * F)
    s = pr.stats()
    assert s["played_dropped"] == 6 and s["played_pushed"] == 10
    pr.close()


def test_bad_arguments():
    with pytest.raises(ValueError, match="frame_ms"):
        PlaybackReference(RATE, frame_ms=0.01)
    with pytest.raises(ValueError, match="power of two"):
        PlaybackReference(RATE, queue_frames=10)


@requires_roomkit
async def test_frames_feed_roomkit_aec():
    """With roomkit's AudioFrame as the factory, played frames go straight into
    a roomkit AEC provider's feed_reference."""
    from roomkit.voice.audio_frame import AudioFrame
    from roomkit.voice.pipeline.aec.mock import MockAECProvider

    aec = MockAECProvider()
    pr = PlaybackReference(RATE, epoch_ns=0, frame_factory=AudioFrame)
    done = asyncio.Event()

    def on_played(session, f):
        aec.feed_reference(f, session)
        if f.metadata["playback_ended"]:
            done.set()

    pr.on_audio_played(on_played)
    pr.attach("call-1")
    pr.record_sent(frame(0) + frame(1), 0, 0, ended=True)  # 40 ms: two played frames
    await asyncio.wait_for(done.wait(), 5)
    assert [f.data for f in aec.reference_frames] == [frame(0), frame(1)]
    assert all(isinstance(f, AudioFrame) and f.sample_rate == RATE for f in aec.reference_frames)
    assert aec.reference_streams == ["call-1", "call-1"]
    pr.close()
