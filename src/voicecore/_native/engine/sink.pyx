# cython: freethreading_compatible=True
"""How the engine's loop side hands inbound frames to a backend."""
cimport cython
from libc.stdint cimport uint64_t

#: Sink marker: deliver this session's frames through Engine.drain()'s batch_sink.
BATCH = object()

cdef class FrameSink:
    """Fast per-frame delivery for a backend: :meth:`Engine.drain` builds the
    AudioFrame itself (``frame_cls`` with ``data``, ``sample_rate``,
    ``channels`` 1, ``sample_width`` 2, ``timestamp_ms`` and ``metadata``
    ``{"frame_kind": ...}``, without re-running its validation: the engine's
    frames are valid by construction) and calls
    ``owner._audio_received_callback(session, frame)``; a result that is not
    None goes to ``spawn`` (the backend runs awaitables as tasks)."""
    def __cinit__(self, owner, session, frame_cls, int sample_rate, double frame_ms, spawn):
        self.owner = owner
        self.session = session
        self.frame_cls = frame_cls
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self.spawn = spawn

    cdef void deliver(self, bytes pcm, int kind, uint64_t frame_no) except *:
        cb = self.owner._audio_received_callback
        if cb is None:
            return
        frame = _object_new(self.frame_cls)
        frame.__dict__ = {"data": pcm, "sample_rate": self.sample_rate, "channels": 1,
                          "sample_width": 2, "timestamp_ms": frame_no * self.frame_ms,
                          "metadata": {"frame_kind": _KIND_NAMES[kind & 3]}}
        r = cb(self.session, frame)
        if r is not None:
            self.spawn(r)


cdef object _object_new = object.__new__
cdef tuple _KIND_NAMES = ("audio", "concealed", "silence", "comfort_noise")


