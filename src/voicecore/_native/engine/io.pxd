# The engine's I/O thread (io.pyx): start/stop and the command entry point.
from voicecore._native.engine.core cimport Core, Cmd

cdef int core_start(Core* c) noexcept nogil        # 0 or an errno
cdef void core_join(Core* c) noexcept nogil
cdef int cmd_push(Core* c, const Cmd* cmd) noexcept nogil   # 0, or -1 when the queue is full
