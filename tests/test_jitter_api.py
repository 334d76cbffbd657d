"""The jitter buffer's Python API at its boundary (issues 15, 17): results are
IntEnum members, bad arguments raise an exception that names JitterBuffer,
the argument and what is accepted, and ``out=`` buffers are checked for their
element type as well as their size."""

from __future__ import annotations

import numpy as np
import pytest

import voicecore.jitter as public
import voicecore.media.jitter as media
from voicecore._native.media import jitter as native
from voicecore.jitter import FrameKind, JitterBuffer, PushResult
from voicecore.testing import netsim as ns

T0 = 10**9


def test_intenums_are_exported_and_returned():
    assert public.PushResult is media.PushResult is native.PushResult is PushResult
    assert public.FrameKind is media.FrameKind is native.FrameKind is FrameKind
    jb = JitterBuffer()
    r = jb.push(ns.rtp_packet(1, 0, 7, 0, bytes(160)), T0)
    assert type(r) is PushResult and r == PushResult.HELD == 1
    assert type(jb.push(b"\x00\x01", T0)) is PushResult
    pcm, kind = jb.pull(T0)
    assert type(kind) is FrameKind and kind == FrameKind.SILENCE
    assert type(jb.pull_into(bytearray(320), T0)) is FrameKind
    assert type(jb.parse_header(b"")[0]) is PushResult
    assert native.RESULT_OK is PushResult.OK and native.FRAME_AUDIO is FrameKind.AUDIO


@pytest.mark.parametrize("kwargs,exc,words", [
    (dict(bogus=1), TypeError, ["JitterBuffer()", "'bogus'", "clock_rate"]),
    (dict(clock_rate="8000"), TypeError, ["JitterBuffer", "clock_rate", "int", "Hz"]),
    (dict(clock_rate=11025), ValueError, ["JitterBuffer", "clock_rate", "8000, 16000", "11025"]),
    (dict(frame_ms=61), ValueError, ["JitterBuffer", "frame_ms", "5-60"]),
    (dict(frame_ms=20.0), TypeError, ["JitterBuffer", "frame_ms", "int"]),
    (dict(capacity=100), ValueError, ["JitterBuffer", "capacity", "power of two", "16-4096"]),
    (dict(min_delay_ms=300, max_delay_ms=200), ValueError, ["JitterBuffer", "min_delay_ms", "max_delay_ms", "2000"]),
    (dict(initial_delay_ms=500), ValueError, ["JitterBuffer", "initial_delay_ms", "[60, 200]"]),
    (dict(fade_start_ms=80), ValueError, ["JitterBuffer", "fade_start_ms", "silent_after_ms"]),
    (dict(dtmf_timeout_ms=0), ValueError, ["JitterBuffer", "dtmf_timeout_ms", "1-60000"]),
    (dict(blend_ms=300), ValueError, ["JitterBuffer", "blend_ms", "0-200"]),
    (dict(concealment_noise=2), ValueError, ["JitterBuffer", "concealment_noise", "[0, 1]"]),
    (dict(concealment_noise="x"), TypeError, ["JitterBuffer", "concealment_noise"]),
    (dict(payload_types={18: "g729"}), ValueError, ["JitterBuffer", "payload_types[18]",
                                                    "'pcmu', 'pcma', 'l16', 'g722' or 'opus'"]),
    (dict(payload_types={9: "g722"}), ValueError, ["JitterBuffer", "payload_types[9]", "clock_rate=16000", "8000"]),
    (dict(clock_rate=16000, payload_types={0: "pcmu", 9: "g722"}), ValueError,
     ["JitterBuffer", "payload_types[9]", "'g722'", "cannot be mixed"]),
    (dict(clock_rate=32000, payload_types={111: "opus"}), ValueError,
     ["JitterBuffer", "payload_types[111]", "'opus'", "8000, 16000, 24000 or 48000", "32000"]),
    (dict(fec="yes"), TypeError, ["JitterBuffer", "fec", "bool"]),
    (dict(payload_types={"0": "pcmu"}), TypeError, ["JitterBuffer", "payload_types", "0-127"]),
    (dict(payload_types={200: "pcmu"}), ValueError, ["JitterBuffer", "payload_types", "0-127"]),
    (dict(payload_types=[0, 8]), TypeError, ["JitterBuffer", "payload_types", "mapping"]),
    (dict(dtmf_payload_type=300), ValueError, ["JitterBuffer", "dtmf_payload_type", "0-127 (RTP payload type) or None"]),
    (dict(cn_payload_type="13"), TypeError, ["JitterBuffer", "cn_payload_type", "0-127"]),
    (dict(dtmf_payload_type=0), ValueError, ["JitterBuffer", "dtmf_payload_type", "also an audio payload type"]),
    (dict(dtmf_payload_type=13), ValueError, ["JitterBuffer", "must differ"]),
])
def test_constructor_errors_name_the_class_and_argument(kwargs, exc, words):
    with pytest.raises(exc) as e:
        JitterBuffer(**kwargs)
    for w in words:
        assert w in str(e.value), (w, str(e.value))
    assert "__cinit__" not in str(e.value)


def test_positional_arguments_refused():
    with pytest.raises(TypeError, match=r"JitterBuffer\(\) takes keyword arguments only"):
        JitterBuffer(8000)


def test_push_and_pull_argument_errors():
    jb = JitterBuffer()
    with pytest.raises(TypeError, match=r"JitterBuffer\.push: datagram must be a bytes-like object.*str"):
        jb.push("not bytes", T0)
    with pytest.raises(TypeError, match=r"JitterBuffer\.push: arrival_ns must be an int \(ns"):
        jb.push(b"\x80" * 12, 1.5)
    with pytest.raises(ValueError, match=r"JitterBuffer\.push: arrival_ns must fit in a signed 64-bit"):
        jb.push(b"\x80" * 12, 2**70)
    with pytest.raises(TypeError, match=r"JitterBuffer\.pull: now_ns"):
        jb.pull("now")
    with pytest.raises(TypeError, match=r"JitterBuffer\.pull_into: now_ns"):
        jb.pull_into(bytearray(320), None)
    assert jb.stats()["malformed"] == 0          # nothing reached the buffer


@pytest.mark.parametrize("out", [
    np.zeros(160, np.float32),      # 640 bytes: big enough, but float32 cannot hold s16 samples
    np.zeros(80, np.float64),
    np.zeros(160, np.int32),
    np.zeros(160, np.uint16),
    memoryview(bytearray(640)).cast("f"),
])
def test_pull_into_checks_the_element_type(out):
    jb = JitterBuffer()
    with pytest.raises(TypeError, match=r"JitterBuffer\.pull_into: out= must be a bytes(-like)? or int16 buffer"):
        jb.pull_into(out, T0)
    assert jb.stats()["frames_out"] == 0


@pytest.mark.parametrize("out", [bytes(320), "x" * 320, [0] * 160])
def test_pull_into_refuses_what_is_not_a_writable_buffer(out):
    with pytest.raises(TypeError, match=r"JitterBuffer\.pull_into: out= must be a writable"):
        JitterBuffer().pull_into(out, T0)


def test_pull_into_accepts_bytes_and_int16_buffers():
    s = ns.Sender()
    s.talk(400)
    for out in (bytearray(320), np.zeros(160, np.int16), memoryview(np.zeros(200, np.int16)).cast("B"),
                np.zeros(320, np.uint8)):
        jb = JitterBuffer()
        for a in ns.deliver(s.packets, base_delay_ms=40):
            jb.push(a.data, a.arrival_ns)
        kinds = {jb.pull_into(out, s.start_ns + k * 20_000_000) for k in range(20)}
        assert FrameKind.AUDIO in kinds
        assert np.frombuffer(memoryview(out).cast("B")[:320], np.int16).any()
    with pytest.raises(ValueError, match=r"out= holds 318 bytes, 320 needed"):
        JitterBuffer().pull_into(bytearray(318), T0)
