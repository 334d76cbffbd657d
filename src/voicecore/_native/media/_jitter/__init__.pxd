# Implementation files of the jitter buffer (voicecore._native.media.jitter):
# cdef inline helpers compiled into jitter.pyx. Not an API; see jitter.pxd.
