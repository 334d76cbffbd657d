from voicecore._native.media.jitter cimport JitterBuffer
from voicecore._native.engine.core cimport Core, Sess, Hist

# count / p50 / p99 / max / mean of a histogram, values * scale
cdef dict hist_dict(const Hist* h, double scale)
# the jitter buffer's counters and delay figures (owner-thread reads)
cdef dict jitter_stats(JitterBuffer jb)
cdef dict session_stats(Sess* s)
cdef dict core_stats(Core* c)
