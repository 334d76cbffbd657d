# cython: freethreading_compatible=True
"""sherpa-onnx through its C API: zero-copy, GIL-free audio in and out.

sherpa-onnx's Python ``accept_waveform`` converts every input element by
element (a list or a numpy array alike). This module binds the C API instead
(``libsherpa-onnx-c-api.so`` of the ``sherpa-onnx-core`` wheel), loaded at run
time with ``dlopen`` from the installed ``sherpa_onnx`` package, so neither
building nor importing voicecore needs sherpa-onnx. Nothing is loaded until
:func:`load` (or the first recognizer / TTS object) is called; the library's
version must be of the series in :data:`SUPPORTED_SERIES`, whose struct
layouts ``sherpa_capi.h`` declares.

Audio in: s16le mono PCM is converted to float32 (``x / 32768``) in native
code into one contiguous per-stream buffer, handed to sherpa-onnx by pointer;
the GIL is released during conversion, accept and decode. A float32 array is
handed over without any copy.

Audio out (TTS): float32 from sherpa-onnx is converted to s16le (round to
nearest, saturated) straight into a ``bytes`` object.

Thread safety: a recognizer or TTS engine may be shared by threads; one stream
must be used by one thread at a time (a second concurrent call raises
RuntimeError instead of corrupting the stream).
"""
cimport cython
from libc.stdint cimport int16_t, int32_t, uint64_t
from voicecore._native.atomic cimport vc_u64, vc_init, vc_cas_acq_rel, vc_store_release
from libc.stdlib cimport malloc, realloc, free
from libc.string cimport memset
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.ref cimport Py_INCREF, Py_DECREF

from voicecore._native._buffers cimport (
    Buf, get_input, get_output_fmt, release, KIND_BYTES, KIND_S16, KIND_F32,
)

import importlib.util
import os

import numpy as np
import sys
import threading

__all__ = [
    "SUPPORTED_SERIES", "OfflineRecognizer", "OfflineStream", "OfflineTts",
    "OnlineRecognizer", "OnlineStream", "f32_to_s16le", "is_loaded", "library_path",
    "load", "s16le_to_f32", "version",
]

#: sherpa-onnx release series whose C structs sherpa_capi.h declares.
SUPPORTED_SERIES = "2.0"


cdef extern from "sherpa_capi.h" nogil:
    ctypedef struct SherpaOnnxOnlineRecognizer:
        pass
    ctypedef struct SherpaOnnxOnlineStream:
        pass
    ctypedef struct SherpaOnnxOfflineRecognizer:
        pass
    ctypedef struct SherpaOnnxOfflineStream:
        pass
    ctypedef struct SherpaOnnxOfflineTts:
        pass

    # Only the fields voicecore sets or reads; the C compiler uses the real
    # layouts from sherpa_capi.h.
    ctypedef struct SherpaOnnxFeatureConfig:
        int32_t sample_rate
        int32_t feature_dim
    ctypedef struct SherpaOnnxOnlineTransducerModelConfig:
        const char* encoder
        const char* decoder
        const char* joiner
    ctypedef struct SherpaOnnxOnlineModelConfig:
        SherpaOnnxOnlineTransducerModelConfig transducer
        const char* tokens
        int32_t num_threads
        const char* provider
        int32_t debug
        const char* model_type
        const char* modeling_unit
    ctypedef struct SherpaOnnxOnlineRecognizerConfig:
        SherpaOnnxFeatureConfig feat_config
        SherpaOnnxOnlineModelConfig model_config
        const char* decoding_method
        int32_t max_active_paths
        int32_t enable_endpoint
        float rule1_min_trailing_silence
        float rule2_min_trailing_silence
        float rule3_min_utterance_length
    ctypedef struct SherpaOnnxOnlineRecognizerResult:
        const char* text

    ctypedef struct SherpaOnnxOfflineTransducerModelConfig:
        const char* encoder
        const char* decoder
        const char* joiner
    ctypedef struct SherpaOnnxOfflineWhisperModelConfig:
        const char* encoder
        const char* decoder
        const char* language
        const char* task
        int32_t tail_paddings
    ctypedef struct SherpaOnnxOfflineMoonshineModelConfig:
        const char* preprocessor
        const char* encoder
        const char* uncached_decoder
        const char* cached_decoder
        const char* merged_decoder
    ctypedef struct SherpaOnnxOfflineModelConfig:
        SherpaOnnxOfflineTransducerModelConfig transducer
        SherpaOnnxOfflineWhisperModelConfig whisper
        SherpaOnnxOfflineMoonshineModelConfig moonshine
        const char* tokens
        int32_t num_threads
        int32_t debug
        const char* provider
        const char* model_type
        const char* modeling_unit
    ctypedef struct SherpaOnnxOfflineRecognizerConfig:
        SherpaOnnxFeatureConfig feat_config
        SherpaOnnxOfflineModelConfig model_config
        const char* decoding_method
        int32_t max_active_paths
    ctypedef struct SherpaOnnxOfflineRecognizerResult:
        const char* text

    ctypedef struct SherpaOnnxOfflineTtsVitsModelConfig:
        const char* model
        const char* lexicon
        const char* tokens
        const char* data_dir
        float noise_scale
        float noise_scale_w
        float length_scale
    ctypedef struct SherpaOnnxOfflineTtsModelConfig:
        SherpaOnnxOfflineTtsVitsModelConfig vits
        int32_t num_threads
        int32_t debug
        const char* provider
    ctypedef struct SherpaOnnxOfflineTtsConfig:
        SherpaOnnxOfflineTtsModelConfig model
        int32_t max_num_sentences
        float silence_scale
    ctypedef struct SherpaOnnxGeneratedAudio:
        const float* samples
        int32_t n
        int32_t sample_rate
    ctypedef struct SherpaOnnxGenerationConfig:
        float silence_scale
        float speed
        int32_t sid
        const int32_t* phoneme_codepoints
        const int32_t* phoneme_codepoints_lens
        int32_t phoneme_codepoints_num_sentences
    ctypedef int32_t (*SherpaOnnxGeneratedAudioProgressCallbackWithArg)(
        const float* samples, int32_t n, float p, void* arg) noexcept

    ctypedef struct vc_sherpa_api:
        const char* (*GetVersionStr)() noexcept nogil
        const SherpaOnnxOnlineRecognizer* (*CreateOnlineRecognizer)(
            const SherpaOnnxOnlineRecognizerConfig*) noexcept nogil
        void (*DestroyOnlineRecognizer)(const SherpaOnnxOnlineRecognizer*) noexcept nogil
        const SherpaOnnxOnlineStream* (*CreateOnlineStream)(
            const SherpaOnnxOnlineRecognizer*) noexcept nogil
        void (*DestroyOnlineStream)(const SherpaOnnxOnlineStream*) noexcept nogil
        void (*OnlineStreamAcceptWaveform)(
            const SherpaOnnxOnlineStream*, int32_t, const float*, int32_t) noexcept nogil
        int32_t (*IsOnlineStreamReady)(
            const SherpaOnnxOnlineRecognizer*, const SherpaOnnxOnlineStream*) noexcept nogil
        void (*DecodeOnlineStream)(
            const SherpaOnnxOnlineRecognizer*, const SherpaOnnxOnlineStream*) noexcept nogil
        void (*DecodeMultipleOnlineStreams)(
            const SherpaOnnxOnlineRecognizer*, const SherpaOnnxOnlineStream**, int32_t) noexcept nogil
        const SherpaOnnxOnlineRecognizerResult* (*GetOnlineStreamResult)(
            const SherpaOnnxOnlineRecognizer*, const SherpaOnnxOnlineStream*) noexcept nogil
        void (*DestroyOnlineRecognizerResult)(const SherpaOnnxOnlineRecognizerResult*) noexcept nogil
        void (*OnlineStreamReset)(
            const SherpaOnnxOnlineRecognizer*, const SherpaOnnxOnlineStream*) noexcept nogil
        void (*OnlineStreamInputFinished)(const SherpaOnnxOnlineStream*) noexcept nogil
        void (*OnlineStreamSetOption)(
            const SherpaOnnxOnlineStream*, const char*, const char*) noexcept nogil
        int32_t (*OnlineStreamIsEndpoint)(
            const SherpaOnnxOnlineRecognizer*, const SherpaOnnxOnlineStream*) noexcept nogil
        const SherpaOnnxOfflineRecognizer* (*CreateOfflineRecognizer)(
            const SherpaOnnxOfflineRecognizerConfig*) noexcept nogil
        void (*DestroyOfflineRecognizer)(const SherpaOnnxOfflineRecognizer*) noexcept nogil
        const SherpaOnnxOfflineStream* (*CreateOfflineStream)(
            const SherpaOnnxOfflineRecognizer*) noexcept nogil
        void (*DestroyOfflineStream)(const SherpaOnnxOfflineStream*) noexcept nogil
        void (*AcceptWaveformOffline)(
            const SherpaOnnxOfflineStream*, int32_t, const float*, int32_t) noexcept nogil
        void (*DecodeOfflineStream)(
            const SherpaOnnxOfflineRecognizer*, const SherpaOnnxOfflineStream*) noexcept nogil
        void (*DecodeMultipleOfflineStreams)(
            const SherpaOnnxOfflineRecognizer*, const SherpaOnnxOfflineStream**, int32_t) noexcept nogil
        const SherpaOnnxOfflineRecognizerResult* (*GetOfflineStreamResult)(
            const SherpaOnnxOfflineStream*) noexcept nogil
        void (*DestroyOfflineRecognizerResult)(const SherpaOnnxOfflineRecognizerResult*) noexcept nogil
        const SherpaOnnxOfflineTts* (*CreateOfflineTts)(const SherpaOnnxOfflineTtsConfig*) noexcept nogil
        void (*DestroyOfflineTts)(const SherpaOnnxOfflineTts*) noexcept nogil
        int32_t (*OfflineTtsSampleRate)(const SherpaOnnxOfflineTts*) noexcept nogil
        int32_t (*OfflineTtsNumSpeakers)(const SherpaOnnxOfflineTts*) noexcept nogil
        const SherpaOnnxGeneratedAudio* (*OfflineTtsGenerateWithConfig)(
            const SherpaOnnxOfflineTts*, const char*, const SherpaOnnxGenerationConfig*,
            SherpaOnnxGeneratedAudioProgressCallbackWithArg, void*) noexcept nogil
        void (*DestroyOfflineTtsGeneratedAudio)(const SherpaOnnxGeneratedAudio*) noexcept nogil

    vc_sherpa_api vc_sherpa
    int vc_sherpa_load(const char* path, char* err, size_t errlen)
    int vc_sherpa_loaded()


# ------------------------------------------------------------------ PCM helpers
# voicecore._native.media.pcm's cdef API: x / 32768 in, round-to-nearest-even with
# saturation (NaN -> 0) out.
from voicecore._native.media.pcm cimport s16_to_f32 as _s16_to_f32, f32_to_s16 as _f32_to_s16


def s16le_to_f32(data, out=None):
    """s16le mono PCM (bytes-like or int16 array) -> float32 in [-1, 1)
    (``x / 32768``): a new numpy array, or ``out`` (any writable C-contiguous
    buffer of at least ``2 * len(data)`` bytes, e.g. a float32 array) filled
    and returned. The same conversion ``accept_pcm16`` runs."""
    cdef Buf src, dst
    cdef Py_ssize_t n
    get_input(data, &src, KIND_BYTES | KIND_S16, b"s16le_to_f32")
    try:
        if src.len & 1:
            raise ValueError(f"s16le_to_f32: s16le PCM must have an even byte count, got {src.len} bytes")
        n = src.len >> 1
        if out is None:
            out = np.empty(n, dtype=np.float32)
        get_output_fmt(out, &dst, 4 * n, KIND_F32 | KIND_BYTES, b"s16le_to_f32")
        try:
            if n >= 1024:
                with nogil:
                    _s16_to_f32(<const int16_t*>src.buf, <float*>dst.buf, n)
            else:  # shorter than a GIL release/re-acquire
                _s16_to_f32(<const int16_t*>src.buf, <float*>dst.buf, n)
        finally:
            release(&dst)
        return out
    finally:
        release(&src)


def f32_to_s16le(samples):
    """float32 samples (any C-contiguous float32 buffer) -> s16le bytes (round to
    nearest, saturated to [-32768, 32767], NaN -> 0)."""
    cdef Buf src
    cdef Py_ssize_t n
    cdef int16_t* dst
    get_input(samples, &src, KIND_F32, b"f32_to_s16le")
    try:
        n = src.len >> 2
        result = PyBytes_FromStringAndSize(NULL, 2 * n)
        dst = <int16_t*>PyBytes_AS_STRING(result)
        with nogil:
            _f32_to_s16(<const float*>src.buf, dst, n)
        return result
    finally:
        release(&src)


# ------------------------------------------------------------------ loading
_load_lock = threading.Lock()
_version = None


def library_path():
    """Path of ``libsherpa-onnx-c-api`` in the installed ``sherpa_onnx`` package
    (``$VOICECORE_SHERPA_ONNX_LIB`` overrides it). Raises ImportError when
    sherpa-onnx is not installed."""
    env = os.environ.get("VOICECORE_SHERPA_ONNX_LIB", "").strip()
    if env:
        return env
    spec = importlib.util.find_spec("sherpa_onnx")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "sherpa-onnx is not installed; the sherpa-onnx speech providers need it: "
            "pip install 'voicecore[sherpa-onnx]' (sherpa-onnx >= 2.0, < 2.1)"
        )
    base = os.path.join(list(spec.submodule_search_locations)[0], "lib")
    if sys.platform == "darwin":
        names = ["libsherpa-onnx-c-api.dylib"]
    elif sys.platform == "win32":
        names = ["sherpa-onnx-c-api.dll"]
    else:
        names = ["libsherpa-onnx-c-api.so"]
    for name in names:
        p = os.path.join(base, name)
        if os.path.exists(p):
            return p
    raise ImportError(
        f"the installed sherpa-onnx has no C API library ({names[0]} not in {base}); "
        "install the sherpa-onnx-core wheel (pip install 'sherpa-onnx>=2.0,<2.1')"
    )


def _check_version(v):
    parts = v.split(".")
    if ".".join(parts[:2]) != SUPPORTED_SERIES:
        raise ImportError(
            f"sherpa-onnx {v} is installed, but voicecore's C API binding supports the "
            f"{SUPPORTED_SERIES}.x series only (its struct layouts change between series): "
            f"pip install 'sherpa-onnx>={SUPPORTED_SERIES},<{parts[0]}.{int(SUPPORTED_SERIES.split('.')[1]) + 1}'"
            if parts and parts[0].isdigit() else
            f"sherpa-onnx reports an unreadable version {v!r}; voicecore supports {SUPPORTED_SERIES}.x"
        )


def load(path=None):
    """Load the sherpa-onnx C API (once per process) and return its version.

    ``path``: the library to load (default :func:`library_path`). Raises
    ImportError when sherpa-onnx is missing, its library cannot be loaded or its
    version is not of :data:`SUPPORTED_SERIES`.
    """
    global _version
    cdef char err[1024]
    cdef bytes bpath
    with _load_lock:
        if _version is not None:
            return _version
        p = library_path() if path is None else os.fspath(path)
        bpath = os.fsencode(p)
        err[0] = 0
        if vc_sherpa_load(bpath, err, sizeof(err)) != 0:
            raise ImportError(f"cannot load the sherpa-onnx C API: {(<bytes>err).decode('utf-8', 'replace')}")
        v = (<bytes>vc_sherpa.GetVersionStr()).decode("ascii", "replace")
        _check_version(v)
        _version = v
        return v


def is_loaded():
    """True once :func:`load` succeeded."""
    return _version is not None


def version():
    """Version of the loaded sherpa-onnx C API (loads it if needed)."""
    return load()


cdef inline int _require() except -1:
    if _version is None:
        load()
    return 0


cdef bytes _b(s):
    return os.fsencode(s) if s is not None else b""


cdef object _text(const char* s):
    if s == NULL:
        return ""
    return (<bytes>s).decode("utf-8", "replace")


cdef int _check_rate(int sample_rate) except -1:
    if sample_rate <= 0:
        raise ValueError(f"sample_rate must be > 0 Hz, got {sample_rate}")
    return 0


# ------------------------------------------------------------------ float scratch
cdef struct Scratch:
    float* buf
    Py_ssize_t cap


cdef int _scratch_reserve(Scratch* s, Py_ssize_t n) except -1:
    cdef float* p
    if n <= s.cap:
        return 0
    if n > 0x7FFFFFFF:
        raise ValueError(f"one call takes at most 2**31-1 samples, got {n}")
    p = <float*>realloc(s.buf, n * sizeof(float))
    if p == NULL:
        raise MemoryError()
    s.buf = p
    s.cap = n
    return 0


cdef int _pcm16_to_scratch(object data, Scratch* s, Py_ssize_t* n_out) except -1:
    """s16le (bytes-like or int16 array) -> float32 into the stream's scratch
    buffer, converted without the GIL; the sample count goes to ``n_out``."""
    cdef Buf src
    cdef Py_ssize_t n
    get_input(data, &src, KIND_BYTES | KIND_S16, b"accept_pcm16")
    try:
        if src.len & 1:
            raise ValueError(f"accept_pcm16: s16le PCM must have an even byte count, got {src.len} bytes")
        n = src.len >> 1
        _scratch_reserve(s, n)
        with nogil:
            _s16_to_f32(<const int16_t*>src.buf, s.buf, n)
        n_out[0] = n
    finally:
        release(&src)
    return 0


# ------------------------------------------------------------------ stream claim
# A stream is used by one thread at a time. Every method that touches its
# state (rate, scratch buffer, the sherpa-onnx stream) claims it first with a
# CAS, so a concurrent caller gets RuntimeError and frees nothing the owner is
# using without the GIL (also on free-threaded builds).
cdef int _claim(vc_u64* busy, const void* stream) except -1:
    cdef uint64_t expected = 0
    if not vc_cas_acq_rel(busy, &expected, 1):
        raise RuntimeError("this stream is in use by another thread")
    if stream == NULL:
        vc_store_release(busy, 0)
        raise ValueError("the stream is closed")
    return 0


cdef int _claim_for_close(vc_u64* busy) except -1:
    cdef uint64_t expected = 0
    if not vc_cas_acq_rel(busy, &expected, 1):
        raise RuntimeError("this stream is in use by another thread")
    return 0


cdef int _same_rate(int* rate, int sample_rate, const char* hint) except -1:
    """The first rate fed to a stream sticks; another one is a clear error."""
    _check_rate(sample_rate)
    if rate[0] == 0:
        rate[0] = sample_rate
    elif sample_rate != rate[0]:
        raise ValueError(
            f"sample-rate mismatch: this stream was fed at {rate[0]} Hz, got {sample_rate} Hz{(<bytes>hint).decode()}"
        )
    return 0


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
        _check_rate(sample_rate)
        _check_files(tokens=tokens, encoder=encoder, decoder=decoder, joiner=joiner)
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
            self._rec = vc_sherpa.CreateOnlineRecognizer(&cfg)
        if self._rec == NULL:
            raise RuntimeError(
                f"sherpa-onnx rejected the streaming transducer model (encoder={encoder!r}, "
                f"decoder={decoder!r}, joiner={joiner!r}, tokens={tokens!r}); see its log above"
            )
        self.sample_rate = sample_rate

    def __dealloc__(self):
        if self._rec != NULL and vc_sherpa_loaded():
            vc_sherpa.DestroyOnlineRecognizer(self._rec)
            self._rec = NULL

    def create_stream(self):
        """A new :class:`OnlineStream` of this recognizer."""
        return OnlineStream(self)

    def decode_streams(self, streams):
        """Decode every stream of ``streams`` (OnlineStreams of this recognizer)
        until none has a frame ready, batching ready streams into one
        ``SherpaOnnxDecodeMultipleOnlineStreams`` call per round, without the
        GIL. Returns the number of rounds. For servers running many calls."""
        cdef list lst = list(streams)
        cdef Py_ssize_t n = len(lst), i, k, entered = 0
        cdef int rounds = 0
        cdef OnlineStream s
        if n == 0:
            return 0
        if len({id(x) for x in lst}) != n:
            raise ValueError("decode_streams: a stream is listed twice")
        cdef const SherpaOnnxOnlineStream** all_ = <const SherpaOnnxOnlineStream**>malloc(n * sizeof(void*))
        cdef const SherpaOnnxOnlineStream** ready = <const SherpaOnnxOnlineStream**>malloc(n * sizeof(void*))
        if all_ == NULL or ready == NULL:
            free(all_); free(ready)
            raise MemoryError()
        try:
            for i in range(n):
                s = <OnlineStream?>lst[i]
                if s._rec is not self:
                    raise ValueError(f"decode_streams: stream {i} belongs to another recognizer")
                if s._stream == NULL:
                    raise ValueError(f"decode_streams: stream {i} is closed")
                all_[i] = s._stream
            entered = 0
            try:
                for i in range(n):
                    (<OnlineStream>lst[i])._enter()
                    entered += 1
                with nogil:
                    while True:
                        k = 0
                        for i in range(n):
                            if vc_sherpa.IsOnlineStreamReady(self._rec, all_[i]):
                                ready[k] = all_[i]
                                k += 1
                        if k == 0:
                            break
                        vc_sherpa.DecodeMultipleOnlineStreams(self._rec, ready, <int32_t>k)
                        rounds += 1
            finally:
                for i in range(entered):
                    vc_store_release(&(<OnlineStream>lst[i])._busy, 0)
        finally:
            free(all_)
            free(ready)
        return rounds


@cython.final
cdef class OnlineStream:
    """One streaming utterance state of an :class:`OnlineRecognizer`.

    ``accept_pcm16`` converts s16le to float32 into this stream's own buffer
    and hands it to sherpa-onnx by pointer, all without the GIL.
    """
    cdef OnlineRecognizer _rec
    cdef const SherpaOnnxOnlineStream* _stream
    cdef Scratch _scratch
    cdef int _rate          # the rate this stream was fed at (0: none yet)
    cdef vc_u64 _busy      # 0 free, 1 claimed by one thread (atomic: also safe without the GIL)

    def __cinit__(self, OnlineRecognizer recognizer not None):
        self._stream = NULL
        self._scratch.buf = NULL
        self._scratch.cap = 0
        self._rate = 0
        vc_init(&self._busy, 0)
        self._rec = recognizer
        if recognizer._rec == NULL:
            raise ValueError("the recognizer is not initialised")
        self._stream = vc_sherpa.CreateOnlineStream(recognizer._rec)
        if self._stream == NULL:
            raise MemoryError("sherpa-onnx could not create a stream")

    def __dealloc__(self):
        if self._stream != NULL and vc_sherpa_loaded():
            vc_sherpa.DestroyOnlineStream(self._stream)
            self._stream = NULL
        free(self._scratch.buf)
        self._scratch.buf = NULL

    cdef inline int _enter(self) except -1:
        return _claim(&self._busy, self._stream)

    cdef int _rate_ok(self, int sample_rate) except -1:
        return _same_rate(&self._rate, sample_rate, b" (one stream keeps one rate; reset() it first)")

    @property
    def stream_sample_rate(self):
        """The rate (Hz) this stream has been fed at, 0 before any audio."""
        return self._rate

    def accept_pcm16(self, data, int sample_rate, bint decode=False):
        """Feed s16le mono PCM (bytes-like or int16 array) at ``sample_rate`` Hz.

        With ``decode=True`` also decodes every ready frame in the same GIL-free
        section and returns the number of decode steps (else 0).
        """
        cdef Py_ssize_t n
        cdef int steps = 0
        self._enter()
        try:
            self._rate_ok(sample_rate)
            _pcm16_to_scratch(data, &self._scratch, &n)
            with nogil:
                vc_sherpa.OnlineStreamAcceptWaveform(self._stream, sample_rate, self._scratch.buf, <int32_t>n)
                if decode:
                    while vc_sherpa.IsOnlineStreamReady(self._rec._rec, self._stream):
                        vc_sherpa.DecodeOnlineStream(self._rec._rec, self._stream)
                        steps += 1
        finally:
            vc_store_release(&self._busy, 0)
        return steps

    def accept_float32(self, samples, int sample_rate):
        """Feed float32 samples in [-1, 1] (any C-contiguous float32 buffer): the
        pointer is handed to sherpa-onnx, no copy."""
        cdef Buf src
        cdef Py_ssize_t n
        self._enter()
        try:
            self._rate_ok(sample_rate)
            get_input(samples, &src, KIND_F32, b"accept_float32")
            try:
                n = src.len >> 2
                if n > 0x7FFFFFFF:
                    raise ValueError("one call takes at most 2**31-1 samples")
                with nogil:
                    vc_sherpa.OnlineStreamAcceptWaveform(self._stream, sample_rate, <const float*>src.buf, <int32_t>n)
            finally:
                release(&src)
        finally:
            vc_store_release(&self._busy, 0)

    def accept_silence(self, Py_ssize_t n_samples, int sample_rate):
        """Feed ``n_samples`` zeros (tail padding before ``input_finished``)."""
        cdef Py_ssize_t i
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        if n_samples == 0:
            return
        if n_samples > 0x7FFFFFFF:
            raise ValueError("one call takes at most 2**31-1 samples")
        self._enter()
        try:
            self._rate_ok(sample_rate)
            _scratch_reserve(&self._scratch, n_samples)
            with nogil:
                for i in range(n_samples):
                    self._scratch.buf[i] = 0.0
                vc_sherpa.OnlineStreamAcceptWaveform(self._stream, sample_rate, self._scratch.buf, <int32_t>n_samples)
        finally:
            vc_store_release(&self._busy, 0)

    def input_finished(self):
        """No more audio: the last frames become decodable."""
        self._enter()
        try:
            vc_sherpa.OnlineStreamInputFinished(self._stream)
        finally:
            vc_store_release(&self._busy, 0)

    def is_ready(self):
        """True when a frame is ready to decode."""
        self._enter()
        try:
            return vc_sherpa.IsOnlineStreamReady(self._rec._rec, self._stream) != 0
        finally:
            vc_store_release(&self._busy, 0)

    def decode(self):
        """Decode every ready frame without the GIL; returns the number of steps."""
        cdef int steps = 0
        self._enter()
        try:
            with nogil:
                while vc_sherpa.IsOnlineStreamReady(self._rec._rec, self._stream):
                    vc_sherpa.DecodeOnlineStream(self._rec._rec, self._stream)
                    steps += 1
        finally:
            vc_store_release(&self._busy, 0)
        return steps

    def is_endpoint(self):
        """True when the endpoint rules fire (enable_endpoint must be on)."""
        self._enter()
        try:
            return vc_sherpa.OnlineStreamIsEndpoint(self._rec._rec, self._stream) != 0
        finally:
            vc_store_release(&self._busy, 0)

    def reset(self):
        """Start a new utterance on this stream (after an endpoint)."""
        self._enter()
        try:
            vc_sherpa.OnlineStreamReset(self._rec._rec, self._stream)
        finally:
            vc_store_release(&self._busy, 0)

    @property
    def text(self):
        """The text decoded so far (since the last reset)."""
        cdef const SherpaOnnxOnlineRecognizerResult* r
        self._enter()
        try:
            r = vc_sherpa.GetOnlineStreamResult(self._rec._rec, self._stream)
            if r == NULL:
                return ""
            try:
                return _text(r.text)
            finally:
                vc_sherpa.DestroyOnlineRecognizerResult(r)
        finally:
            vc_store_release(&self._busy, 0)

    def set_option(self, key, value):
        """Set a per-stream option (for example ``language`` on a multilingual model)."""
        cdef bytes k = str(key).encode(), v = str(value).encode()
        self._enter()
        try:
            vc_sherpa.OnlineStreamSetOption(self._stream, k, v)
        finally:
            vc_store_release(&self._busy, 0)

    def close(self):
        """Free the stream now (also done when it is garbage-collected)."""
        _claim_for_close(&self._busy)
        if self._stream != NULL:
            vc_sherpa.DestroyOnlineStream(self._stream)
            self._stream = NULL
        vc_store_release(&self._busy, 0)


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
            raise ValueError(f"unknown offline model kind {kind!r}; expected one of {_OFFLINE_KINDS}")
        _require()
        _check_rate(sample_rate)
        if kind == "transducer":
            _check_files(tokens=tokens, encoder=encoder, decoder=decoder, joiner=joiner)
        else:
            _check_files(tokens=tokens, encoder=encoder, decoder=decoder)
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
            self._rec = vc_sherpa.CreateOfflineRecognizer(&cfg)
        if self._rec == NULL:
            raise RuntimeError(
                f"sherpa-onnx rejected the {kind} model (encoder={encoder!r}, decoder={decoder!r}, "
                f"tokens={tokens!r}); see its log above"
            )
        self.kind = kind

    def __dealloc__(self):
        if self._rec != NULL and vc_sherpa_loaded():
            vc_sherpa.DestroyOfflineRecognizer(self._rec)
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
        cdef Py_ssize_t n = len(lst), i
        cdef OfflineStream s
        if n == 0:
            return
        if len({id(x) for x in lst}) != n:
            raise ValueError("decode_streams: a stream is listed twice")
        cdef const SherpaOnnxOfflineStream** arr = <const SherpaOnnxOfflineStream**>malloc(n * sizeof(void*))
        cdef Py_ssize_t entered = 0
        if arr == NULL:
            raise MemoryError()
        try:
            for i in range(n):
                s = <OfflineStream?>lst[i]
                if s._rec is not self:
                    raise ValueError(f"decode_streams: stream {i} belongs to another recognizer")
                s._enter()
                entered += 1
                arr[i] = s._stream
            with nogil:
                if n == 1:
                    vc_sherpa.DecodeOfflineStream(self._rec, arr[0])
                else:
                    vc_sherpa.DecodeMultipleOfflineStreams(self._rec, arr, <int32_t>n)
        finally:
            for i in range(entered):
                vc_store_release(&(<OfflineStream>lst[i])._busy, 0)
            free(arr)


@cython.final
cdef class OfflineStream:
    """One utterance for an :class:`OfflineRecognizer`."""
    cdef OfflineRecognizer _rec
    cdef const SherpaOnnxOfflineStream* _stream
    cdef Scratch _scratch
    cdef int _rate
    cdef vc_u64 _busy      # 0 free, 1 claimed by one thread (see OnlineStream)

    def __cinit__(self, OfflineRecognizer recognizer not None):
        self._stream = NULL
        self._scratch.buf = NULL
        self._scratch.cap = 0
        self._rate = 0
        vc_init(&self._busy, 0)
        self._rec = recognizer
        if recognizer._rec == NULL:
            raise ValueError("the recognizer is not initialised")
        self._stream = vc_sherpa.CreateOfflineStream(recognizer._rec)
        if self._stream == NULL:
            raise MemoryError("sherpa-onnx could not create a stream")

    def __dealloc__(self):
        if self._stream != NULL and vc_sherpa_loaded():
            vc_sherpa.DestroyOfflineStream(self._stream)
            self._stream = NULL
        free(self._scratch.buf)
        self._scratch.buf = NULL

    cdef inline int _enter(self) except -1:
        return _claim(&self._busy, self._stream)

    cdef int _rate_ok(self, int sample_rate) except -1:
        return _same_rate(&self._rate, sample_rate, b"")

    def accept_pcm16(self, data, int sample_rate):
        """Feed s16le mono PCM at ``sample_rate`` Hz (converted without the GIL)."""
        cdef Py_ssize_t n
        self._enter()
        try:
            self._rate_ok(sample_rate)
            _pcm16_to_scratch(data, &self._scratch, &n)
            with nogil:
                vc_sherpa.AcceptWaveformOffline(self._stream, sample_rate, self._scratch.buf, <int32_t>n)
        finally:
            vc_store_release(&self._busy, 0)

    def accept_float32(self, samples, int sample_rate):
        """Feed float32 samples by pointer (no copy)."""
        cdef Buf src
        cdef Py_ssize_t n
        self._enter()
        try:
            self._rate_ok(sample_rate)
            get_input(samples, &src, KIND_F32, b"accept_float32")
            try:
                n = src.len >> 2
                if n > 0x7FFFFFFF:
                    raise ValueError("one call takes at most 2**31-1 samples")
                with nogil:
                    vc_sherpa.AcceptWaveformOffline(self._stream, sample_rate, <const float*>src.buf, <int32_t>n)
            finally:
                release(&src)
        finally:
            vc_store_release(&self._busy, 0)

    @property
    def text(self):
        """The decoded text (after the recognizer's ``decode_streams``)."""
        cdef const SherpaOnnxOfflineRecognizerResult* r
        self._enter()
        try:
            r = vc_sherpa.GetOfflineStreamResult(self._stream)
            if r == NULL:
                return ""
            try:
                return _text(r.text)
            finally:
                vc_sherpa.DestroyOfflineRecognizerResult(r)
        finally:
            vc_store_release(&self._busy, 0)

    def close(self):
        """Free the stream now (RuntimeError while another thread uses it)."""
        _claim_for_close(&self._busy)
        if self._stream != NULL:
            vc_sherpa.DestroyOfflineStream(self._stream)
            self._stream = NULL
        vc_store_release(&self._busy, 0)


# ------------------------------------------------------------------ TTS
cdef struct _GenCtx:
    void* callback          # borrowed PyObject* (kept alive by the caller's frame)
    void* error             # owned PyObject* of an exception raised by the callback
    int stop


cdef int32_t _tts_trampoline(const float* samples, int32_t n, float p, void* arg) noexcept with gil:
    cdef _GenCtx* ctx = <_GenCtx*>arg
    cdef object pcm
    if ctx.stop:
        return 0
    try:
        pcm = PyBytes_FromStringAndSize(NULL, 2 * <Py_ssize_t>n)
        _f32_to_s16(samples, <int16_t*>PyBytes_AS_STRING(pcm), n)
        ret = (<object>ctx.callback)(pcm)
        if ret is False:
            ctx.stop = 1
            return 0
        return 1
    except BaseException as exc:
        Py_INCREF(exc)
        ctx.error = <void*>exc
        ctx.stop = 1
        return 0


@cython.final
cdef class OfflineTts:
    """A VITS/Piper TTS engine. sherpa-onnx 2.x does not phonemize Piper text:
    pass phonemes (one list of Unicode code points per sentence) to
    :meth:`generate_pcm16`."""
    cdef const SherpaOnnxOfflineTts* _tts
    cdef readonly int sample_rate
    cdef readonly int num_speakers

    def __cinit__(self):
        self._tts = NULL

    def __init__(self, *, model, tokens, data_dir="", lexicon="", int num_threads=2,
                 provider="cpu", float noise_scale=0.0, float noise_scale_w=0.0,
                 float length_scale=0.0, int max_num_sentences=1, float silence_scale=0.0,
                 bint debug=False):
        _require()
        _check_files(model=model, tokens=tokens)
        if lexicon:
            for i, lex in enumerate(str(lexicon).split(",")):
                _check_files(**{f"lexicon[{i}]": lex})
        if data_dir and not os.path.isdir(data_dir):
            raise FileNotFoundError(f"data_dir: no such directory: {data_dir!r}")
        cdef SherpaOnnxOfflineTtsConfig cfg
        memset(&cfg, 0, sizeof(cfg))
        b_model, b_tok, b_dd, b_lex, b_prov = _b(model), _b(tokens), _b(data_dir), _b(lexicon), _b(provider)
        cfg.model.vits.model = b_model
        cfg.model.vits.tokens = b_tok
        cfg.model.vits.data_dir = b_dd
        cfg.model.vits.lexicon = b_lex
        cfg.model.vits.noise_scale = noise_scale          # 0: sherpa-onnx's default
        cfg.model.vits.noise_scale_w = noise_scale_w
        cfg.model.vits.length_scale = length_scale
        cfg.model.num_threads = num_threads
        cfg.model.provider = b_prov
        cfg.model.debug = debug
        cfg.max_num_sentences = max_num_sentences
        cfg.silence_scale = silence_scale
        with nogil:
            self._tts = vc_sherpa.CreateOfflineTts(&cfg)
        if self._tts == NULL:
            raise RuntimeError(
                f"sherpa-onnx rejected the TTS model {model!r} (tokens={tokens!r}); a Piper voice "
                "needs sherpa-onnx metadata in the ONNX file (python -m voicecore.models fetch piper-joe)"
            )
        self.sample_rate = vc_sherpa.OfflineTtsSampleRate(self._tts)
        self.num_speakers = vc_sherpa.OfflineTtsNumSpeakers(self._tts)

    def __dealloc__(self):
        if self._tts != NULL and vc_sherpa_loaded():
            vc_sherpa.DestroyOfflineTts(self._tts)
            self._tts = NULL

    def generate_pcm16(self, phonemes, int sid=0, float speed=1.0, callback=None):
        """Synthesize ``phonemes`` (a sequence of sentences, each a sequence of
        Unicode code points, or of str) and return all audio as s16le mono bytes
        at :attr:`sample_rate` Hz.

        ``callback(pcm: bytes)`` (optional) receives each piece as s16le bytes as
        soon as sherpa-onnx produces it; returning ``False`` stops the
        synthesis. An exception in the callback stops it and is re-raised here.
        The GIL is released during synthesis (taken only for the callback).
        """
        cdef list sentences = []
        for s in phonemes:
            if isinstance(s, str):
                s = [ord(c) for c in s]
            else:
                s = [int(c) for c in s]
            if s:
                sentences.append(s)
        if speed <= 0:
            raise ValueError(f"speed must be > 0, got {speed}")
        if sid < 0 or (self.num_speakers > 0 and sid >= self.num_speakers):
            raise ValueError(f"speaker id {sid} out of range (the model has {self.num_speakers} speakers)")
        if not sentences:
            return b""
        cdef Py_ssize_t total = 0, i, j, k
        for s in sentences:
            total += len(s)
        cdef int32_t* cps = <int32_t*>malloc(total * sizeof(int32_t))
        cdef int32_t* lens = <int32_t*>malloc(len(sentences) * sizeof(int32_t))
        cdef SherpaOnnxGenerationConfig g
        cdef _GenCtx ctx
        cdef const SherpaOnnxGeneratedAudio* audio = NULL
        cdef object result
        cdef int16_t* out16
        if cps == NULL or lens == NULL:
            free(cps); free(lens)
            raise MemoryError()
        try:
            k = 0
            for i in range(len(sentences)):
                s = sentences[i]
                lens[i] = <int32_t>len(s)
                for j in range(len(s)):
                    cps[k] = <int32_t>s[j]
                    k += 1
            memset(&g, 0, sizeof(g))
            g.speed = speed
            g.sid = sid
            g.silence_scale = 0.2
            g.phoneme_codepoints = cps
            g.phoneme_codepoints_lens = lens
            g.phoneme_codepoints_num_sentences = <int32_t>len(sentences)
            ctx.callback = <void*>callback
            ctx.error = NULL
            ctx.stop = 0
            with nogil:
                if callback is not None:
                    audio = vc_sherpa.OfflineTtsGenerateWithConfig(self._tts, b"", &g, _tts_trampoline, &ctx)
                else:
                    audio = vc_sherpa.OfflineTtsGenerateWithConfig(self._tts, b"", &g, NULL, NULL)
            if ctx.error != NULL:
                err = <object>ctx.error
                Py_DECREF(err)
                if audio != NULL:
                    vc_sherpa.DestroyOfflineTtsGeneratedAudio(audio)
                    audio = NULL
                raise err
            if audio == NULL:
                if ctx.stop:
                    return b""
                raise RuntimeError("sherpa-onnx TTS generation failed; see its log above")
            result = PyBytes_FromStringAndSize(NULL, 2 * <Py_ssize_t>audio.n)
            out16 = <int16_t*>PyBytes_AS_STRING(result)
            with nogil:
                _f32_to_s16(audio.samples, out16, audio.n)
            return result
        finally:
            if audio != NULL:
                vc_sherpa.DestroyOfflineTtsGeneratedAudio(audio)
            free(cps)
            free(lens)


def _check_files(**paths):
    for field, p in paths.items():
        if not p:
            raise ValueError(f"{field}: a model file path is required")
        if not os.path.isfile(p):
            raise FileNotFoundError(f"{field}: no such file: {os.fspath(p)!r}")
