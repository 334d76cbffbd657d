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
    # build the AudioFrame and call owner._audio_received_callback(session, frame)
    cdef void deliver(self, bytes pcm, int kind, uint64_t frame_no) except *
