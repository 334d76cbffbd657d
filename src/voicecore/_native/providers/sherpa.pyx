# cython: freethreading_compatible=True
"""sherpa-onnx through its C API: loading, and speech recognition with
zero-copy, GIL-free audio in (text to speech is in ``sherpa_tts``).

sherpa-onnx's Python ``accept_waveform`` converts every input element by
element (a list or a numpy array alike). This module binds the C API instead
(``libsherpa-onnx-c-api.so`` of the ``sherpa-onnx-core`` wheel), loaded at run
time with ``dlopen`` from the installed ``sherpa_onnx`` package, so neither
building nor importing voicecore needs sherpa-onnx. Nothing is loaded until
:func:`load` (or the first recognizer / TTS object) is called; the library's
version must be of the series in :data:`SUPPORTED_SERIES`, whose struct
layouts ``sherpa_capi.h`` declares (``_sherpa_capi.pxd`` for Cython).

Audio in: s16le mono PCM is converted to float32 (``x / 32768``, the
``voicecore.pcm`` kernel) in native code into one contiguous per-stream
buffer, handed to sherpa-onnx by pointer; the GIL is released during
conversion, accept and decode. A float32 array is handed over without any copy.

Thread safety: a recognizer or TTS engine may be shared by threads; one stream
is used by one thread at a time. A stream keeps its sherpa-onnx pointer in one
atomic word that a call takes out and marks busy in the same step
(``vc_ptr_claim``), so a concurrent call gets RuntimeError and ``close()`` can
never free a stream another thread holds (also on free-threaded builds).
"""
cimport cython
from libc.stdint cimport int16_t, int32_t, uint64_t
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memset

from voicecore._native.atomic cimport (
    vc_u64, vc_init, vc_load_acquire, vc_ptr_claim, vc_ptr_release, VC_PTR_BUSY,
)
from voicecore._native._buffers cimport Buf, get_input, release, KIND_BYTES, KIND_S16, KIND_F32
from voicecore._native.media.pcm cimport s16_to_f32 as _s16_to_f32
from voicecore._native.providers._sherpa_capi cimport *
from voicecore._native.providers._sherpa_lib cimport sherpa_api

import os

__all__ = [
    "SUPPORTED_SERIES", "OfflineRecognizer", "OfflineStream", "OnlineRecognizer", "OnlineStream",
    "is_loaded", "library_path", "load", "version",
]

# ------------------------------------------------------------------ loading
# The loader is _sherpa_lib (it owns the one function table); its public
# names are re-exported here.
from voicecore._native.providers._sherpa_lib import (
    SUPPORTED_SERIES, check_files, is_loaded, library_path, load, version,
)

cdef const vc_sherpa_api* _api = NULL      # the loaded C API, set by _require()


cdef inline int _require() except -1:
    global _api
    if _api == NULL:
        _api = sherpa_api()
    return 0


cdef bytes _b(s):
    return os.fsencode(s) if s is not None else b""


cdef object _text(const char* s):
    if s == NULL:
        return ""
    return (<bytes>s).decode("utf-8", "replace")


cdef int _check_rate(int sample_rate, const char* what) except -1:
    if sample_rate <= 0:
        raise ValueError(f"{(<bytes>what).decode()}: sample_rate must be > 0 Hz, got {sample_rate}")
    return 0


# ------------------------------------------------------------------ streams
cdef int _scratch_reserve(_Stream s, Py_ssize_t n, const char* what) except -1:
    cdef float* p
    if n <= s._cap:
        return 0
    if n > 0x7FFFFFFF:
        raise ValueError(f"{(<bytes>what).decode()}: one call takes at most 2**31-1 samples, got {n}")
    p = <float*>realloc(s._scratch, n * sizeof(float))
    if p == NULL:
        raise MemoryError()
    s._scratch = p
    s._cap = n
    return 0


cdef class _Stream:
    """What an OnlineStream and an OfflineStream share: the claimed sherpa-onnx
    pointer, the float32 scratch buffer, the rate the stream was fed at, and
    the methods built on them. Not instantiated directly."""
    cdef object _recognizer      # keeps the recognizer (and its sherpa-onnx object) alive
    cdef const void* _rec        # the recognizer's sherpa-onnx pointer
    cdef vc_u64 _slot            # the stream's sherpa-onnx pointer; 0 closed, VC_PTR_BUSY in use
    cdef float* _scratch
    cdef Py_ssize_t _cap
    cdef int _rate               # the rate this stream was fed at (0: none yet)

    def __cinit__(self, *args, **kwargs):
        vc_init(&self._slot, 0)
        self._scratch = NULL
        self._cap = 0
        self._rate = 0

    def __dealloc__(self):
        free(self._scratch)
        self._scratch = NULL

    # per kind (virtual, implemented by the two stream classes)
    cdef void _accept(self, const void* stream, int32_t rate, const float* x, int32_t n) noexcept nogil:
        pass

    cdef void _destroy(self, const void* stream) noexcept nogil:
        pass

    cdef object _result_text(self, const void* stream):
        return ""

    # the claim: take the pointer out and mark the stream busy in one atomic step
    cdef const void* _take(self, const char* what) except NULL:
        cdef uint64_t p = vc_ptr_claim(&self._slot)
        if p == VC_PTR_BUSY:
            raise RuntimeError(f"{(<bytes>what).decode()}: this stream is in use by another thread "
                               "(one thread per stream at a time)")
        if p == 0:
            raise ValueError(f"{(<bytes>what).decode()}: the stream is closed")
        return <const void*>p

    cdef inline void _give(self, const void* stream) noexcept nogil:
        vc_ptr_release(&self._slot, <uint64_t>stream)

    cdef int _rate_ok(self, int sample_rate, const char* what) except -1:
        """The first rate fed to a stream sticks; another one is a clear error."""
        _check_rate(sample_rate, what)
        if self._rate == 0:
            self._rate = sample_rate
        elif sample_rate != self._rate:
            raise ValueError(f"{(<bytes>what).decode()}: sample-rate mismatch: this stream was fed at "
                             f"{self._rate} Hz, got {sample_rate} Hz (one stream keeps one rate)")
        return 0

    cdef int _accept_pcm16(self, object data, int sample_rate, bint decode, const char* what) except -1:
        """s16le -> float32 into the scratch buffer and into sherpa-onnx, all
        without the GIL; ``decode`` also runs the online decoder (steps returned)."""
        cdef Buf src
        cdef Py_ssize_t n
        cdef int steps = 0
        cdef const void* st = self._take(what)
        try:
            self._rate_ok(sample_rate, what)
            get_input(data, &src, KIND_BYTES | KIND_S16, what, b"data")
            try:
                if src.len & 1:
                    raise ValueError(f"{(<bytes>what).decode()}: data must be s16le PCM with an even "
                                     f"byte count, got {src.len} bytes")
                n = src.len >> 1
                _scratch_reserve(self, n, what)
                with nogil:
                    _s16_to_f32(<const int16_t*>src.buf, self._scratch, n)
                    self._accept(st, sample_rate, self._scratch, <int32_t>n)
                    if decode:
                        while _api.IsOnlineStreamReady(<const SherpaOnnxOnlineRecognizer*>self._rec,
                                                           <const SherpaOnnxOnlineStream*>st):
                            _api.DecodeOnlineStream(<const SherpaOnnxOnlineRecognizer*>self._rec,
                                                         <const SherpaOnnxOnlineStream*>st)
                            steps += 1
            finally:
                release(&src)
        finally:
            self._give(st)
        return steps

    def accept_float32(self, samples, int sample_rate):
        """Feed float32 samples in [-1, 1] (any C-contiguous float32 buffer) at
        ``sample_rate`` Hz: the pointer is handed to sherpa-onnx, no copy."""
        cdef Buf src
        cdef Py_ssize_t n
        cdef const void* st = self._take(b"accept_float32")
        try:
            self._rate_ok(sample_rate, b"accept_float32")
            get_input(samples, &src, KIND_F32, b"accept_float32", b"samples")
            try:
                n = src.len >> 2
                if n > 0x7FFFFFFF:
                    raise ValueError(f"accept_float32: one call takes at most 2**31-1 samples, got {n}")
                with nogil:
                    self._accept(st, sample_rate, <const float*>src.buf, <int32_t>n)
            finally:
                release(&src)
        finally:
            self._give(st)

    @property
    def text(self):
        """The text decoded so far (online: since the last reset; offline:
        after the recognizer's ``decode_streams``)."""
        cdef const void* st = self._take(b"text")
        try:
            return self._result_text(st)
        finally:
            self._give(st)

    def close(self):
        """Free the stream now (also done when it is garbage-collected).
        Idempotent; RuntimeError while another thread uses it."""
        cdef uint64_t p = vc_ptr_claim(&self._slot)
        if p == VC_PTR_BUSY:
            raise RuntimeError("close: this stream is in use by another thread (one thread per stream at a time)")
        if p != 0:
            self._destroy(<const void*>p)
        vc_ptr_release(&self._slot, 0)


cdef const void** _claim_all(list streams, object rec, type cls, const char* what) except NULL:
    """Claim every stream of ``streams`` (of class ``cls``, belonging to
    ``rec``), in order, taking its pointer out in the same step: a malloc'd
    array the caller hands back with ``_give_all``. Raises naming the index
    (after giving back what it had claimed)."""
    cdef Py_ssize_t n = len(streams), i, k = 0
    cdef _Stream s
    if len({id(x) for x in streams}) != n:
        raise ValueError(f"{(<bytes>what).decode()}: a stream is listed twice")
    for i in range(n):
        if type(streams[i]) is not cls:
            raise TypeError(f"{(<bytes>what).decode()}: stream {i} is not an {cls.__name__}, "
                            f"got {type(streams[i]).__name__}")
        if (<_Stream>streams[i])._recognizer is not rec:
            raise ValueError(f"{(<bytes>what).decode()}: stream {i} belongs to another recognizer")
    cdef const void** arr = <const void**>malloc((n if n else 1) * sizeof(void*))
    if arr == NULL:
        raise MemoryError()
    try:
        for k in range(n):
            s = <_Stream>streams[k]
            arr[k] = s._take(what)
    except (RuntimeError, ValueError) as exc:
        _give_all(streams, arr, k)
        raise type(exc)(f"{str(exc).split(': ', 1)[0]}: stream {k}: {str(exc).split(': ', 1)[1]}") from None
    return arr


cdef void _give_all(list streams, const void** arr, Py_ssize_t n) noexcept:
    cdef Py_ssize_t i
    for i in range(n):
        (<_Stream>streams[i])._give(arr[i])
    free(arr)


# ------------------------------------------------------------------ online (streaming)
@cython.final
cdef class OnlineRecognizer:
    """A streaming transducer recognizer (encoder/decoder/joiner ONNX models).

    Paths are checked before sherpa-onnx sees them (FileNotFoundError names the
    field). ``sample_rate`` (Hz) is the model's feature rate; streams accept any
    rate and sherpa-onnx resamples, but one stream keeps one rate.
    """
    cdef const SherpaOnnxOnlineRecognizer* _rec
    cdef readonly int sample_rate

    def __cinit__(self):
        self._rec = NULL

    def __init__(self, *, tokens, encoder, decoder, joiner, int sample_rate=16000,
                 int feature_dim=80, int num_threads=2, provider="cpu",
                 decoding_method="greedy_search", int max_active_paths=4,
                 bint enable_endpoint=True, float rule1_min_trailing_silence=2.4,
                 float rule2_min_trailing_silence=1.2,
                 float rule3_min_utterance_length=20.0, model_type="", bint debug=False):
        _require()
        _check_rate(sample_rate, b"OnlineRecognizer")
        check_files("OnlineRecognizer", tokens=tokens, encoder=encoder, decoder=decoder, joiner=joiner)
        cdef SherpaOnnxOnlineRecognizerConfig cfg
        memset(&cfg, 0, sizeof(cfg))
        b_tok, b_enc, b_dec, b_join = _b(tokens), _b(encoder), _b(decoder), _b(joiner)
        b_prov, b_dm, b_mt = _b(provider), _b(decoding_method), _b(model_type)
        cfg.feat_config.sample_rate = sample_rate
        cfg.feat_config.feature_dim = feature_dim
        cfg.model_config.transducer.encoder = b_enc
        cfg.model_config.transducer.decoder = b_dec
        cfg.model_config.transducer.joiner = b_join
        cfg.model_config.tokens = b_tok
        cfg.model_config.num_threads = num_threads
        cfg.model_config.provider = b_prov
        cfg.model_config.debug = debug
        cfg.model_config.model_type = b_mt
        cfg.decoding_method = b_dm
        cfg.max_active_paths = max_active_paths
        cfg.enable_endpoint = enable_endpoint
        cfg.rule1_min_trailing_silence = rule1_min_trailing_silence
        cfg.rule2_min_trailing_silence = rule2_min_trailing_silence
        cfg.rule3_min_utterance_length = rule3_min_utterance_length
        with nogil:
            self._rec = _api.CreateOnlineRecognizer(&cfg)
        if self._rec == NULL:
            raise RuntimeError(
                f"sherpa-onnx rejected the streaming transducer model (encoder={encoder!r}, "
                f"decoder={decoder!r}, joiner={joiner!r}, tokens={tokens!r}); see its log above"
            )
        self.sample_rate = sample_rate

    def __dealloc__(self):
        if self._rec != NULL and _api != NULL:
            _api.DestroyOnlineRecognizer(self._rec)
            self._rec = NULL

    def create_stream(self):
        """A new :class:`OnlineStream` of this recognizer."""
        return OnlineStream(self)

    def decode_streams(self, streams):
        """Decode every stream of ``streams`` (OnlineStreams of this recognizer)
        until none has a frame ready, batching ready streams into one
        ``SherpaOnnxDecodeMultipleOnlineStreams`` call per round, without the
        GIL. Returns the number of rounds. For servers running many calls.
        Each stream is claimed (its pointer taken out) before it is used."""
        cdef list lst = list(streams)
        cdef Py_ssize_t n = len(lst), i, k
        cdef int rounds = 0
        if n == 0:
            return 0
        cdef const void** all_ = _claim_all(lst, self, OnlineStream, b"OnlineRecognizer.decode_streams")
        cdef const SherpaOnnxOnlineStream** ready = <const SherpaOnnxOnlineStream**>malloc(n * sizeof(void*))
        try:
            if ready == NULL:
                raise MemoryError()
            with nogil:
                while True:
                    k = 0
                    for i in range(n):
                        if _api.IsOnlineStreamReady(self._rec, <const SherpaOnnxOnlineStream*>all_[i]):
                            ready[k] = <const SherpaOnnxOnlineStream*>all_[i]
                            k += 1
                    if k == 0:
                        break
                    _api.DecodeMultipleOnlineStreams(self._rec, ready, <int32_t>k)
                    rounds += 1
        finally:
            free(ready)
            _give_all(lst, all_, n)
        return rounds


@cython.final
cdef class OnlineStream(_Stream):
    """One streaming utterance state of an :class:`OnlineRecognizer`.

    ``accept_pcm16`` converts s16le to float32 into this stream's own buffer
    and hands it to sherpa-onnx by pointer, all without the GIL.
    """

    def __cinit__(self, OnlineRecognizer recognizer not None):
        if recognizer._rec == NULL:
            raise ValueError("OnlineStream: the recognizer is not initialised")
        self._recognizer = recognizer
        self._rec = recognizer._rec
        cdef const SherpaOnnxOnlineStream* st = _api.CreateOnlineStream(recognizer._rec)
        if st == NULL:
            raise MemoryError("OnlineStream: sherpa-onnx could not create a stream")
        vc_ptr_release(&self._slot, <uint64_t>st)

    def __dealloc__(self):
        cdef uint64_t p = vc_load_acquire(&self._slot)
        if p != 0 and p != VC_PTR_BUSY and _api != NULL:
            _api.DestroyOnlineStream(<const SherpaOnnxOnlineStream*>p)

    cdef void _accept(self, const void* st, int32_t rate, const float* x, int32_t n) noexcept nogil:
        _api.OnlineStreamAcceptWaveform(<const SherpaOnnxOnlineStream*>st, rate, x, n)

    cdef void _destroy(self, const void* st) noexcept nogil:
        _api.DestroyOnlineStream(<const SherpaOnnxOnlineStream*>st)

    cdef object _result_text(self, const void* st):
        cdef const SherpaOnnxOnlineRecognizerResult* r = _api.GetOnlineStreamResult(
            <const SherpaOnnxOnlineRecognizer*>self._rec, <const SherpaOnnxOnlineStream*>st)
        if r == NULL:
            return ""
        try:
            return _text(r.text)
        finally:
            _api.DestroyOnlineRecognizerResult(r)

    @property
    def stream_sample_rate(self):
        """The rate (Hz) this stream has been fed at, 0 before any audio."""
        return self._rate

    def accept_pcm16(self, data, int sample_rate, bint decode=False):
        """Feed s16le mono PCM (bytes-like or int16 array) at ``sample_rate`` Hz.

        With ``decode=True`` also decodes every ready frame in the same GIL-free
        section and returns the number of decode steps (else 0).
        """
        return self._accept_pcm16(data, sample_rate, decode, b"OnlineStream.accept_pcm16")

    def accept_silence(self, Py_ssize_t n_samples, int sample_rate):
        """Feed ``n_samples`` zeros (0..2**31-1; tail padding before ``input_finished``)."""
        cdef const void* st
        if not 0 <= n_samples <= 0x7FFFFFFF:
            raise ValueError(f"OnlineStream.accept_silence: n_samples must be 0..2**31-1, got {n_samples}")
        if n_samples == 0:
            return
        st = self._take(b"OnlineStream.accept_silence")
        try:
            self._rate_ok(sample_rate, b"OnlineStream.accept_silence")
            _scratch_reserve(self, n_samples, b"OnlineStream.accept_silence")
            with nogil:
                memset(self._scratch, 0, n_samples * sizeof(float))
                self._accept(st, sample_rate, self._scratch, <int32_t>n_samples)
        finally:
            self._give(st)

    def input_finished(self):
        """No more audio: the last frames become decodable."""
        cdef const void* st = self._take(b"OnlineStream.input_finished")
        _api.OnlineStreamInputFinished(<const SherpaOnnxOnlineStream*>st)
        self._give(st)

    def is_ready(self):
        """True when a frame is ready to decode."""
        cdef const void* st = self._take(b"OnlineStream.is_ready")
        cdef bint ready = _api.IsOnlineStreamReady(<const SherpaOnnxOnlineRecognizer*>self._rec, <const SherpaOnnxOnlineStream*>st) != 0
        self._give(st)
        return ready

    def decode(self):
        """Decode every ready frame without the GIL; returns the number of steps."""
        cdef int steps = 0
        cdef const void* st = self._take(b"OnlineStream.decode")
        with nogil:
            while _api.IsOnlineStreamReady(<const SherpaOnnxOnlineRecognizer*>self._rec, <const SherpaOnnxOnlineStream*>st):
                _api.DecodeOnlineStream(<const SherpaOnnxOnlineRecognizer*>self._rec, <const SherpaOnnxOnlineStream*>st)
                steps += 1
        self._give(st)
        return steps

    def is_endpoint(self):
        """True when the endpoint rules fire (enable_endpoint must be on)."""
        cdef const void* st = self._take(b"OnlineStream.is_endpoint")
        cdef bint end = _api.OnlineStreamIsEndpoint(<const SherpaOnnxOnlineRecognizer*>self._rec, <const SherpaOnnxOnlineStream*>st) != 0
        self._give(st)
        return end

    def reset(self):
        """Start a new utterance on this stream (after an endpoint)."""
        cdef const void* st = self._take(b"OnlineStream.reset")
        _api.OnlineStreamReset(<const SherpaOnnxOnlineRecognizer*>self._rec, <const SherpaOnnxOnlineStream*>st)
        self._give(st)

    def set_option(self, key, value):
        """Set a per-stream option (for example ``language`` on a multilingual model)."""
        cdef bytes k = str(key).encode(), v = str(value).encode()
        cdef const void* st = self._take(b"OnlineStream.set_option")
        _api.OnlineStreamSetOption(<const SherpaOnnxOnlineStream*>st, k, v)
        self._give(st)


# ------------------------------------------------------------------ offline
_OFFLINE_KINDS = ("transducer", "whisper", "moonshine")


@cython.final
cdef class OfflineRecognizer:
    """A non-streaming recognizer: ``kind`` is ``"transducer"``, ``"whisper"``
    or ``"moonshine"`` (Moonshine v2: ``encoder`` and a merged ``decoder``)."""
    cdef const SherpaOnnxOfflineRecognizer* _rec
    cdef readonly str kind

    def __cinit__(self):
        self._rec = NULL

    def __init__(self, *, kind, tokens, encoder, decoder, joiner="", language="en",
                 task="transcribe", int sample_rate=16000, int feature_dim=80,
                 int num_threads=2, provider="cpu", model_type="",
                 decoding_method="greedy_search", int tail_paddings=-1, bint debug=False):
        if kind not in _OFFLINE_KINDS:
            raise ValueError(f"OfflineRecognizer: kind must be one of {_OFFLINE_KINDS}, got {kind!r}")
        _require()
        _check_rate(sample_rate, b"OfflineRecognizer")
        if kind == "transducer":
            check_files("OfflineRecognizer", tokens=tokens, encoder=encoder, decoder=decoder, joiner=joiner)
        else:
            check_files("OfflineRecognizer", tokens=tokens, encoder=encoder, decoder=decoder)
        cdef SherpaOnnxOfflineRecognizerConfig cfg
        memset(&cfg, 0, sizeof(cfg))
        b_tok, b_enc, b_dec, b_join = _b(tokens), _b(encoder), _b(decoder), _b(joiner)
        b_prov, b_dm, b_mt = _b(provider), _b(decoding_method), _b(model_type)
        b_lang, b_task = _b(language), _b(task)
        cfg.feat_config.sample_rate = sample_rate
        cfg.feat_config.feature_dim = feature_dim
        if kind == "transducer":
            cfg.model_config.transducer.encoder = b_enc
            cfg.model_config.transducer.decoder = b_dec
            cfg.model_config.transducer.joiner = b_join
        elif kind == "whisper":
            cfg.model_config.whisper.encoder = b_enc
            cfg.model_config.whisper.decoder = b_dec
            cfg.model_config.whisper.language = b_lang
            cfg.model_config.whisper.task = b_task
            cfg.model_config.whisper.tail_paddings = tail_paddings
        else:
            cfg.model_config.moonshine.encoder = b_enc
            cfg.model_config.moonshine.merged_decoder = b_dec
        cfg.model_config.tokens = b_tok
        cfg.model_config.num_threads = num_threads
        cfg.model_config.provider = b_prov
        cfg.model_config.debug = debug
        cfg.model_config.model_type = b_mt
        cfg.decoding_method = b_dm
        cfg.max_active_paths = 4
        with nogil:
            self._rec = _api.CreateOfflineRecognizer(&cfg)
        if self._rec == NULL:
            raise RuntimeError(
                f"sherpa-onnx rejected the {kind} model (encoder={encoder!r}, decoder={decoder!r}, "
                f"tokens={tokens!r}); see its log above"
            )
        self.kind = kind

    def __dealloc__(self):
        if self._rec != NULL and _api != NULL:
            _api.DestroyOfflineRecognizer(self._rec)
            self._rec = NULL

    def create_stream(self):
        """A new :class:`OfflineStream` (one utterance)."""
        return OfflineStream(self)

    def transcribe_pcm16(self, data, int sample_rate):
        """Transcribe one utterance of s16le mono PCM at ``sample_rate`` Hz:
        convert, accept and decode without the GIL. Returns the text."""
        s = OfflineStream(self)
        s.accept_pcm16(data, sample_rate)
        self.decode_streams((s,))
        return s.text

    def decode_streams(self, streams):
        """Decode many :class:`OfflineStream`s of this recognizer in one
        ``SherpaOnnxDecodeMultipleOfflineStreams`` call, without the GIL."""
        cdef list lst = list(streams)
        cdef Py_ssize_t n = len(lst)
        if n == 0:
            return
        cdef const void** arr = _claim_all(lst, self, OfflineStream, b"OfflineRecognizer.decode_streams")
        try:
            with nogil:
                if n == 1:
                    _api.DecodeOfflineStream(self._rec, <const SherpaOnnxOfflineStream*>arr[0])
                else:
                    _api.DecodeMultipleOfflineStreams(self._rec, <const SherpaOnnxOfflineStream**>arr,
                                                           <int32_t>n)
        finally:
            _give_all(lst, arr, n)


@cython.final
cdef class OfflineStream(_Stream):
    """One utterance for an :class:`OfflineRecognizer`."""

    def __cinit__(self, OfflineRecognizer recognizer not None):
        if recognizer._rec == NULL:
            raise ValueError("OfflineStream: the recognizer is not initialised")
        self._recognizer = recognizer
        self._rec = recognizer._rec
        cdef const SherpaOnnxOfflineStream* st = _api.CreateOfflineStream(recognizer._rec)
        if st == NULL:
            raise MemoryError("OfflineStream: sherpa-onnx could not create a stream")
        vc_ptr_release(&self._slot, <uint64_t>st)

    def __dealloc__(self):
        cdef uint64_t p = vc_load_acquire(&self._slot)
        if p != 0 and p != VC_PTR_BUSY and _api != NULL:
            _api.DestroyOfflineStream(<const SherpaOnnxOfflineStream*>p)

    cdef void _accept(self, const void* st, int32_t rate, const float* x, int32_t n) noexcept nogil:
        _api.AcceptWaveformOffline(<const SherpaOnnxOfflineStream*>st, rate, x, n)

    cdef void _destroy(self, const void* st) noexcept nogil:
        _api.DestroyOfflineStream(<const SherpaOnnxOfflineStream*>st)

    cdef object _result_text(self, const void* st):
        cdef const SherpaOnnxOfflineRecognizerResult* r = _api.GetOfflineStreamResult(
            <const SherpaOnnxOfflineStream*>st)
        if r == NULL:
            return ""
        try:
            return _text(r.text)
        finally:
            _api.DestroyOfflineRecognizerResult(r)

    def accept_pcm16(self, data, int sample_rate):
        """Feed s16le mono PCM at ``sample_rate`` Hz (converted without the GIL)."""
        self._accept_pcm16(data, sample_rate, False, b"OfflineStream.accept_pcm16")
