"""FrameSink recycles a delivered AudioFrame only when nothing else holds it
or any of its parts: every way a callback can keep a frame, or a piece of
one, must leave what it kept unchanged."""

from __future__ import annotations

import gc
import sysconfig
import weakref
from typing import Any

import pytest

from voicecore.audio_frame import AudioFrame

sink_mod = pytest.importorskip("voicecore._native.engine.sink")
FrameSink = sink_mod.FrameSink

RECYCLES = not sysconfig.get_config_var("Py_GIL_DISABLED")
KINDS = ("audio", "concealed", "silence", "comfort_noise")


class _Owner:
    def __init__(self, cb: Any) -> None:
        self._audio_received_callback = cb


def _pcm(i: int, n: int = 320) -> bytes:
    return bytes([i & 0xFF]) * n


def _run(cb: Any, count: int, frame_cls: type = AudioFrame, rate: int = 8000) -> FrameSink:
    sink = FrameSink(_Owner(cb), "sess", frame_cls, rate, 20.0, lambda r: None)
    for i in range(count):
        sink.deliver_frame(_pcm(i), i & 3, i)
    return sink


def _expect(frame: AudioFrame, i: int, rate: int = 8000) -> None:
    assert frame == AudioFrame(data=_pcm(i), sample_rate=rate, channels=1, sample_width=2,
                               timestamp_ms=20.0 * i, metadata={"frame_kind": KINDS[i & 3]})
    assert list(vars(frame)) == ["data", "sample_rate", "channels", "sample_width", "timestamp_ms", "metadata"]


def test_frames_nobody_keeps_are_recycled_with_fresh_contents() -> None:
    seen: list[tuple[int, int, bytes, float, dict, int]] = []

    def cb(session: Any, frame: AudioFrame) -> None:
        _expect(frame, len(seen))
        seen.append((id(frame), id(frame.data), frame.data[:1], frame.timestamp_ms, dict(frame.metadata),
                     hash(frame.data)))

    _run(cb, 8)
    assert [s[2] for s in seen] == [_pcm(i, 1) for i in range(8)]
    # the cached hash of recycled bytes is reset with their contents
    assert [s[5] for s in seen] == [hash(_pcm(i)) for i in range(8)]
    if RECYCLES:
        assert len({s[0] for s in seen}) == 1 and len({s[1] for s in seen}) == 1


@pytest.mark.parametrize("keep", ["frame", "data", "metadata", "dict", "weakref", "vars-copy", "closure"])
def test_anything_kept_is_never_touched_again(keep: str) -> None:
    kept: list[tuple[int, Any]] = []

    def cb(session: Any, frame: AudioFrame) -> None:
        i = int(frame.timestamp_ms // 20)
        if i % 3 == 0:
            if keep == "frame":
                kept.append((i, frame))
            elif keep == "data":
                kept.append((i, frame.data))
            elif keep == "metadata":
                kept.append((i, frame.metadata))
            elif keep == "dict":
                kept.append((i, frame.__dict__))
            elif keep == "weakref":
                kept.append((i, (weakref.ref(frame), bytes(bytearray(frame.data)), dict(frame.metadata))))
            elif keep == "vars-copy":
                kept.append((i, dict(vars(frame))))
            else:
                kept.append((i, (lambda f=frame: f)))

    _run(cb, 30)
    gc.collect()
    assert len(kept) == 10
    for i, obj in kept:
        if keep == "frame":
            _expect(obj, i)
        elif keep == "data":
            assert obj == _pcm(i) and hash(obj) == hash(_pcm(i))
        elif keep == "metadata":
            assert obj == {"frame_kind": KINDS[i & 3]}
        elif keep in ("dict", "vars-copy"):
            assert obj["data"] == _pcm(i) and obj["timestamp_ms"] == 20.0 * i
            assert obj["metadata"] == {"frame_kind": KINDS[i & 3]}
        elif keep == "weakref":
            ref, data, meta = obj
            # the frame died (its weak reference is dead) or, if alive, is frame i
            f = ref()
            if f is not None:
                _expect(f, i)
            assert data == _pcm(i) and meta == {"frame_kind": KINDS[i & 3]}
        else:
            _expect(obj(), i)


@pytest.mark.parametrize("change", ["attr", "new-attr", "del-attr", "meta-key", "meta-pop", "replace-dict",
                                    "class", "replace-data", "reorder"])
def test_a_frame_the_callback_changed_is_not_reused(change: str) -> None:
    """Frame 2 is changed and let go: frame 3 must still be a clean frame of
    the sink's class (were frame 2 reused, the change would show)."""
    class Other(AudioFrame):
        pass

    n = [0]

    def cb(session: Any, frame: AudioFrame) -> None:
        i = n[0]
        n[0] += 1
        assert type(frame) is AudioFrame
        _expect(frame, i)
        if i == 2:
            if change == "attr":
                frame.sample_width = 4
            elif change == "new-attr":
                frame.extra = 1
            elif change == "del-attr":
                del frame.timestamp_ms
            elif change == "meta-key":
                frame.metadata["vad"] = True
            elif change == "meta-pop":
                frame.metadata.pop("frame_kind")
            elif change == "replace-dict":
                frame.__dict__ = dict(vars(frame))
            elif change == "class":
                frame.__class__ = Other
            elif change == "reorder":       # same attributes, same values, another order
                ch = frame.channels
                del frame.channels
                frame.channels = ch
            else:
                frame.data = b"x"

    _run(cb, 6)
    assert n[0] == 6


def test_async_callbacks_keep_their_frame() -> None:
    import asyncio

    got: list[AudioFrame] = []
    tasks: list[Any] = []

    async def cb(session: Any, frame: AudioFrame) -> None:
        await asyncio.sleep(0)
        got.append(frame)

    async def main() -> None:
        sink = FrameSink(_Owner(cb), "s", AudioFrame, 16000, 20.0, lambda c: tasks.append(asyncio.ensure_future(c)))
        for i in range(6):
            sink.deliver_frame(_pcm(i, 640), i & 3, i)
        await asyncio.gather(*tasks)

    asyncio.run(main())
    assert [f.data for f in got] == [_pcm(i, 640) for i in range(6)]
    assert [f.metadata["frame_kind"] for f in got] == [KINDS[i & 3] for i in range(6)]
    assert all(f.sample_rate == 16000 for f in got)


def test_nested_delivery_and_other_rates_and_sizes() -> None:
    """A delivery from inside a callback gets its own frame; sinks at other
    rates or of other frame sizes never see each other's frames."""
    out: list[tuple[str, bytes, int, float]] = []
    inner = None

    def cb_inner(session: Any, frame: AudioFrame) -> None:
        out.append(("inner", frame.data, frame.sample_rate, frame.timestamp_ms))

    def cb_outer(session: Any, frame: AudioFrame) -> None:
        inner.deliver_frame(_pcm(0xAA, 640), 0, 7)
        out.append(("outer", frame.data, frame.sample_rate, frame.timestamp_ms))

    inner = FrameSink(_Owner(cb_inner), "s", AudioFrame, 16000, 20.0, lambda r: None)
    outer = FrameSink(_Owner(cb_outer), "s", AudioFrame, 16000, 20.0, lambda r: None)
    for i in range(3):
        outer.deliver_frame(_pcm(i, 640 if i != 1 else 300), 0, i)
    assert out == [("inner", _pcm(0xAA, 640), 16000, 140.0), ("outer", _pcm(0, 640), 16000, 0.0),
                   ("inner", _pcm(0xAA, 640), 16000, 140.0), ("outer", _pcm(1, 300), 16000, 20.0),
                   ("inner", _pcm(0xAA, 640), 16000, 140.0), ("outer", _pcm(2, 640), 16000, 40.0)]


def test_classes_that_cannot_be_recycled_still_deliver() -> None:
    class Slotted(AudioFrame):
        __slots__ = ()

    class Finalised(AudioFrame):
        def __del__(self) -> None:
            dels.append(self.timestamp_ms)

    class WithState(list, AudioFrame):      # a C base whose state is not in __dict__
        pass

    dels: list[float] = []
    for cls in (Slotted, Finalised):
        seen: list[tuple[type, bytes]] = []
        _run(lambda s, f: seen.append((type(f), f.data)), 4, frame_cls=cls)
        assert seen == [(cls, _pcm(i)) for i in range(4)]
    gc.collect()
    assert sorted(dels) == [0.0, 20.0, 40.0, 60.0]      # one finaliser per frame
    firsts: list[Any] = []

    def keep_state(s: Any, f: Any) -> None:
        assert list(f) == [], f"frame {f.timestamp_ms} carries a previous frame's list"
        f.append(f.timestamp_ms)
        firsts.append(bytes(bytearray(f.data)))

    _run(keep_state, 4, frame_cls=WithState)
    assert firsts == [_pcm(i) for i in range(4)]


def test_no_reference_leaks() -> None:
    sink = FrameSink(_Owner(lambda s, f: None), "s", AudioFrame, 8000, 20.0, lambda r: None)
    for i in range(1000):
        sink.deliver_frame(_pcm(i), i & 3, i)
    gc.collect()
    before = len(gc.get_objects())
    for i in range(20000):
        sink.deliver_frame(_pcm(i), i & 3, i)
    gc.collect()
    assert len(gc.get_objects()) - before < 50


def test_a_frame_waiting_for_reuse_is_out_of_the_collectors_reach() -> None:
    """The parked frame is untracked and held by an object the collector does
    not traverse: heap walkers (gc.get_objects, gc.get_referents) cannot reach
    it and see it change under them."""
    class Mine(AudioFrame):
        pass

    sink = _run(lambda s, f: None, 3, frame_cls=Mine)
    gc.collect()
    assert [o for o in gc.get_objects() if type(o) is Mine] == []
    seen = set()
    todo = [sink]
    while todo:
        o = todo.pop()
        if id(o) in seen:
            continue
        seen.add(id(o))
        assert type(o) is not Mine
        if isinstance(o, (type, type(gc))):     # not the whole module graph
            continue
        todo.extend(gc.get_referents(o))
    # and the parked frame still works
    got: list[Mine] = []
    sink.deliver_frame(_pcm(9), 1, 9)
    _run(lambda s, f: got.append(f), 2, frame_cls=Mine)
    assert type(got[0]) is Mine
    assert vars(got[0]) == vars(AudioFrame(data=_pcm(0), sample_rate=8000, timestamp_ms=0.0,
                                           metadata={"frame_kind": "audio"}))
