# Per-session work of one engine tick (tick.pyx): playout of one inbound frame,
# one paced outbound packet (audio or DTMF), RTCP, the inactivity watchdog.
from libc.stdint cimport int64_t, uint8_t, uint64_t
from voicecore._native.engine.core cimport Core, Sess

cdef void session_tick(Core* c, Sess* s, int64_t deadline, int64_t now, uint64_t period) noexcept nogil
cdef void send_rtcp(Core* c, Sess* s, int64_t now, bint bye) noexcept nogil
cdef void on_rtcp(Core* c, Sess* s, const uint8_t* d, Py_ssize_t n, int64_t now) noexcept nogil
cdef void flush_out(Core* c, Sess* s) noexcept nogil
cdef void srtp_failed(Sess* s, int code) noexcept nogil
