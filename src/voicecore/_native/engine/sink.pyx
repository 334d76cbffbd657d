# cython: freethreading_compatible=True
"""How the engine's loop side hands inbound frames to a backend.

A frame that nobody kept is recycled: after the callback returns, if the
AudioFrame, its ``__dict__``, its ``data`` bytes and its ``metadata`` dict
are referenced by nothing but the sink (no other reference, no weak
reference, every attribute still the object the sink put there), the next
frame of any session at that rate reuses them in place: the bytes are
refilled (their cached hash reset), ``timestamp_ms`` and ``frame_kind`` are
replaced. Nothing observable changes: a frame the callback keeps, or any
part of one it keeps, is never touched again. This saves the allocation
and deallocation of the five objects, about a third of the per-frame cost
on the loop. Free-threaded builds always allocate. While a frame waits for
reuse it is hidden from the garbage collector (untracked, held by an object
the collector does not traverse), so not even gc.get_objects() can reach it.
"""
cimport cython
from libc.stdint cimport uint64_t
from libc.string cimport memcpy
from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.ref cimport PyObject, PyTypeObject


cdef extern from "Python.h":
    ctypedef object (*newfunc)(PyTypeObject* t, PyObject* args, PyObject* kw)
    ctypedef struct _TypeNew "PyTypeObject":
        newfunc tp_new
    object PyObject_GenericGetDict(object o, void* ctx)
    bint PyDict_Next(object d, Py_ssize_t* pos, PyObject** key, PyObject** value)
    Py_ssize_t PyDict_GET_SIZE(object d)
    Py_ssize_t _Py_REFCNT "Py_REFCNT"(object o)
    int PyObject_GC_IsTracked(object o)
    void PyObject_GC_Track(object o)
    void PyObject_GC_UnTrack(object o)


cdef extern from *:
    """
    #if defined(Py_GIL_DISABLED)
    #define VC_RECYCLE 0
    #else
    #define VC_RECYCLE 1
    #endif
    /* A bytes object only the caller holds gets new contents of the same
     * size: the cached hash must go (as in CPython's own in-place resize). */
    static inline int vc_bytes_refill(PyObject *b, const char *src, Py_ssize_t n) {
    #if VC_RECYCLE && PY_VERSION_HEX < 0x030F0000
        if (Py_SIZE(b) != n) return 0;
        memcpy(PyBytes_AS_STRING(b), src, (size_t)n);
    #if defined(__GNUC__)
    #pragma GCC diagnostic push
    #pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    #endif
        ((PyBytesObject *)b)->ob_shash = -1;
    #if defined(__GNUC__)
    #pragma GCC diagnostic pop
    #endif
        return 1;
    #else
        (void)b; (void)src; (void)n;
        return 0;
    #endif
    }
    /* A new object's __dict__. PyObject_GenericSetDict leaves 3.13's inline
     * attribute values in place (CPython gh-133912: the attributes then read
     * as the class defaults), so 3.13 and later assign through the __dict__
     * descriptor, which drops them. */
    static int vc_set_dict(PyObject *o, PyObject *d, PyObject *name) {
    #if PY_VERSION_HEX >= 0x030D0000
        return PyObject_SetAttr(o, name, d);
    #else
        (void)name;
        return PyObject_GenericSetDict(o, d, NULL);
    #endif
    }
    /* Whether any weak reference to o exists (the list CPython's own
     * _PyObject_GET_WEAKREFS_LISTPTR reads, for heap types). */
    static inline int vc_has_weakrefs(PyObject *o) {
        Py_ssize_t off = Py_TYPE(o)->tp_weaklistoffset;
        return off != 0 && *(PyObject **)((char *)o + off) != NULL;
    }
    """
    bint VC_RECYCLE
    bint vc_bytes_refill(object b, const char* src, Py_ssize_t n)
    bint vc_has_weakrefs(object o)
    int vc_set_dict(object o, object d, object name) except -1


@cython.final
@cython.no_gc
cdef class _Spare:
    """The last frame of one (class, rate) that nobody kept, with its parts.
    Not traversed by the garbage collector, and the parts it holds are
    untracked while they wait (``tracked``: which were, to track them again)."""
    cdef object frame
    cdef dict d
    cdef bytes pcm
    cdef dict meta
    cdef int tracked

    cdef inline void park(self, object frame, dict d, bytes pcm, dict meta):
        cdef int t = 0
        if PyObject_GC_IsTracked(frame):
            t |= 1
            PyObject_GC_UnTrack(frame)
        if PyObject_GC_IsTracked(d):
            t |= 2
            PyObject_GC_UnTrack(d)
        if PyObject_GC_IsTracked(meta):
            t |= 4
            PyObject_GC_UnTrack(meta)
        self.tracked = t
        self.frame = frame
        self.d = d
        self.pcm = pcm
        self.meta = meta

    cdef inline void unpark(self):
        """Track the parked parts again (the caller has taken them)."""
        if self.tracked & 1:
            PyObject_GC_Track(self.frame)
        if self.tracked & 2:
            PyObject_GC_Track(self.d)
        if self.tracked & 4:
            PyObject_GC_Track(self.meta)
        self.tracked = 0


cdef dict _SPARES = {}           # (frame class, rate) -> _Spare, shared by every sink at that rate


cdef class FrameSink:
    """Fast per-frame delivery for a backend: :meth:`Engine.drain` builds the
    AudioFrame itself (``frame_cls`` with ``data``, ``sample_rate``,
    ``channels`` 1, ``sample_width`` 2, ``timestamp_ms`` and ``metadata``
    ``{"frame_kind": ...}``, without re-running its validation: the engine's
    frames are valid by construction) and calls
    ``owner._audio_received_callback(session, frame)``; a result that is not
    None goes to ``spawn`` (the backend runs awaitables as tasks). Frames
    nobody kept are recycled (see the module docstring)."""
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
            tmpl = _TEMPLATES[sample_rate] = dict(zip(_KEY_NAMES, (b"", sample_rate, _ONE, _TWO, 0.0, None)))
        self._tmpl = tmpl
        self._rate = tmpl["sample_rate"]
        # Recycling needs a plain heap class: no finaliser (it would run once
        # for many frames), nothing but its __dict__ to carry state (no slots,
        # no C base with state of its own: the size of a plain class).
        self._spare = None
        if (VC_RECYCLE and frame_cls.__flags__ & (1 << 9)       # Py_TPFLAGS_HEAPTYPE
                and frame_cls.__basicsize__ == _PLAIN.__basicsize__ and frame_cls.__itemsize__ == 0
                and getattr(frame_cls, "__del__", None) is None
                and getattr(frame_cls, "__slots__", None) is None):
            spare = _SPARES.get((frame_cls, sample_rate))
            if spare is None:
                spare = _SPARES[(frame_cls, sample_rate)] = _Spare()
            self._spare = spare

    def deliver_frame(self, const unsigned char[::1] pcm, int kind, uint64_t frame_no) -> None:
        """The per-frame path from Python (tests, benchmarks): ``pcm`` s16le
        mono at ``sample_rate``, ``kind`` 0-3 (audio, concealed, silence,
        comfort noise), ``frame_no`` the frame's number since the session
        start (``timestamp_ms`` = frame_no x frame_ms)."""
        self.deliver(<const char*>&pcm[0] if pcm.shape[0] else <const char*>b"", pcm.shape[0], kind, frame_no)

    cdef void deliver(self, const char* data, Py_ssize_t nbytes, int kind, uint64_t frame_no) except *:
        cdef _Spare sp = self._spare
        cdef object frame, ts
        cdef dict d, meta
        cdef bytes pcm
        cb = self.owner._audio_received_callback
        if cb is None:
            return
        ts = frame_no * self.frame_ms
        if sp is not None and sp.frame is not None:
            sp.unpark()
            frame = sp.frame
            d = sp.d
            pcm = sp.pcm
            meta = sp.meta
            # taken (a delivery nested in the callback makes its own), and no
            # longer counted among the references _unshared expects
            sp.frame = None
            sp.d = None
            sp.pcm = None
            sp.meta = None
            if not vc_bytes_refill(pcm, data, nbytes):
                pcm = PyBytes_FromStringAndSize(data, nbytes)
                d["data"] = pcm
            d["timestamp_ms"] = ts
            meta["frame_kind"] = _KIND_NAMES[kind & 3]
        else:
            # A copy of a dict with the same keys in the same order copies its
            # table (no hashing, no resizing); the object is made by the
            # class's own tp_new (object's, for a dataclass), called directly,
            # and gets its __dict__ through vc_set_dict.
            pcm = PyBytes_FromStringAndSize(data, nbytes)
            d = self._tmpl.copy()
            d["data"] = pcm
            d["timestamp_ms"] = ts
            meta = (<dict>_KIND_META[kind & 3]).copy()
            d["metadata"] = meta
            frame = (<_TypeNew*>self.frame_cls).tp_new(<PyTypeObject*>self.frame_cls, <PyObject*>_NO_ARGS, NULL)
            vc_set_dict(frame, d, _DICT_ATTR)
        r = cb(self.session, frame)
        if r is not None:
            self.spawn(r)
            return                   # the awaitable holds the frame
        if sp is not None and sp.frame is None and self._unshared(frame, d, pcm, meta, ts):
            sp.park(frame, d, pcm, meta)

    cdef bint _unshared(self, object frame, dict d, bytes pcm, dict meta, object ts):
        """True if nothing but this call's locals refers to the frame or its
        parts, and every attribute is still what deliver put there (the same
        keys in the same order, each value the very object)."""
        cdef Py_ssize_t pos = 0
        cdef PyObject* k
        cdef PyObject* v
        cdef PyObject* want[6]
        cdef int i
        # frame: this local only; pcm and meta: a local and the dict; d: a
        # local and the frame
        if (_Py_REFCNT(frame) != 1 or _Py_REFCNT(d) != 2 or _Py_REFCNT(pcm) != 2 or _Py_REFCNT(meta) != 2
                or type(frame) is not self.frame_cls or vc_has_weakrefs(frame)
                or PyDict_GET_SIZE(d) != 6 or PyDict_GET_SIZE(meta) != 1):
            return False
        if PyObject_GenericGetDict(frame, NULL) is not d:
            return False
        want[0] = <PyObject*>pcm
        want[1] = <PyObject*>self._rate
        want[2] = <PyObject*>_ONE
        want[3] = <PyObject*>_TWO
        want[4] = <PyObject*>ts
        want[5] = <PyObject*>meta
        for i in range(6):
            PyDict_Next(d, &pos, &k, &v)
            if k != _KEYS[i] or v != want[i]:
                return False
        pos = 0
        PyDict_Next(meta, &pos, &k, &v)
        return k == <PyObject*>_FRAME_KIND


cdef tuple _NO_ARGS = ()
cdef tuple _KEY_NAMES = ("data", "sample_rate", "channels", "sample_width", "timestamp_ms", "metadata")
cdef PyObject* _KEYS[6]
for _i in range(6):
    _KEYS[_i] = <PyObject*>_KEY_NAMES[_i]     # kept alive by _KEY_NAMES
cdef object _ONE = 1
cdef object _TWO = 2
cdef dict _TEMPLATES = {}        # sample rate -> frame template (never mutated once made)
cdef str _FRAME_KIND = "frame_kind"
cdef str _DICT_ATTR = "__dict__"


class _PLAIN:
    """A plain class: its instance size is the one recycling accepts."""
cdef tuple _KIND_NAMES = ("audio", "concealed", "silence", "comfort_noise")
cdef tuple _KIND_META = tuple({_FRAME_KIND: k} for k in _KIND_NAMES)


#: Sink marker: deliver this session's frames through Engine.drain()'s batch_sink.
BATCH = object()
