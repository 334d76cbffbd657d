# cython: freethreading_compatible=True
"""How the engine's loop side hands inbound frames to a backend."""
cimport cython
from libc.stdint cimport uint64_t
from cpython.ref cimport PyObject, PyTypeObject

#: Sink marker: deliver this session's frames through Engine.drain()'s batch_sink.
BATCH = object()


cdef extern from "Python.h":
    ctypedef object (*newfunc)(PyTypeObject* t, PyObject* args, PyObject* kw)
    ctypedef struct _TypeNew "PyTypeObject":
        newfunc tp_new
    int PyObject_GenericSetDict(PyObject* o, PyObject* d, void* ctx) except -1


cdef class FrameSink:
    """Fast per-frame delivery for a backend: :meth:`Engine.drain` builds the
    AudioFrame itself (``frame_cls`` with ``data``, ``sample_rate``,
    ``channels`` 1, ``sample_width`` 2, ``timestamp_ms`` and ``metadata``
    ``{"frame_kind": ...}``, without re-running its validation: the engine's
    frames are valid by construction) and calls
    ``owner._audio_received_callback(session, frame)``; a result that is not
    None goes to ``spawn`` (the backend runs awaitables as tasks)."""
    def __cinit__(self, owner, session, frame_cls, int sample_rate, double frame_ms, spawn):
        if not isinstance(frame_cls, type):
            raise TypeError(f"frame_cls must be a class, got {type(frame_cls).__name__}")
        self.owner = owner
        self.session = session
        self.frame_cls = frame_cls
        self.sample_rate = sample_rate
        self.frame_ms = frame_ms
        self.spawn = spawn
        # the frame's attributes in their order; data, timestamp_ms and
        # metadata are replaced per frame. One template per rate, shared by
        # every session at that rate, so that it stays in cache.
        tmpl = _TEMPLATES.get(sample_rate)
        if tmpl is None:
            tmpl = _TEMPLATES[sample_rate] = {"data": b"", "sample_rate": sample_rate, "channels": 1,
                                              "sample_width": 2, "timestamp_ms": 0.0, "metadata": None}
        self._tmpl = tmpl

    cdef void deliver(self, bytes pcm, int kind, uint64_t frame_no) except *:
        cb = self.owner._audio_received_callback
        if cb is None:
            return
        # A copy of a dict with the same keys in the same order copies its
        # table (no hashing, no resizing); the object is made by the class's
        # own tp_new (object's, for a dataclass) and gets its __dict__ through
        # the generic setter, both called directly rather than through their
        # Python wrappers (object.__new__, the __dict__ descriptor).
        d = self._tmpl.copy()
        d["data"] = pcm
        d["timestamp_ms"] = frame_no * self.frame_ms
        d["metadata"] = (<dict>_KIND_META[kind & 3]).copy()
        frame = (<_TypeNew*>self.frame_cls).tp_new(<PyTypeObject*>self.frame_cls, <PyObject*>_NO_ARGS, NULL)
        PyObject_GenericSetDict(<PyObject*>frame, <PyObject*>d, NULL)
        r = cb(self.session, frame)
        if r is not None:
            self.spawn(r)


cdef tuple _NO_ARGS = ()
cdef dict _TEMPLATES = {}        # sample rate -> frame template (never mutated once made)
cdef tuple _KIND_META = tuple({"frame_kind": k} for k in ("audio", "concealed", "silence", "comfort_noise"))
