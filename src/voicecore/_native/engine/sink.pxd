cimport cython
from libc.stdint cimport uint64_t


@cython.final
cdef class FrameSink:
    cdef readonly object owner
    cdef readonly object session
    cdef readonly object frame_cls
    cdef readonly object spawn
    cdef readonly int sample_rate
    cdef readonly double frame_ms
    cdef dict _tmpl              # the frame's attributes in order (data, timestamp_ms, metadata set per frame)
    cdef object _rate            # the template's sample_rate object (recycling checks identity)
    cdef object _spare           # the shared _Spare of (frame_cls, sample_rate), None: never recycle
    # build the AudioFrame (or refill an unshared one) from nbytes of s16le
    # and call owner._audio_received_callback(session, frame)
    cdef void deliver(self, const char* data, Py_ssize_t nbytes, int kind, uint64_t frame_no) except *
    cdef bint _unshared(self, object frame, dict d, bytes pcm, dict meta, object ts)
