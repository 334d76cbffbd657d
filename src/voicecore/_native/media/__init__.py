"""Native media modules: G.711 (``g711``), PCM conversion (``pcm``), the
streaming resampler (``resample``), the RTP jitter buffer (``jitter``) and the
lock-free rings (``ring``). Each has a ``.pxd`` with the ``cdef ... nogil``
API the audio I/O engine cimports and a ``.pyi`` stub."""
