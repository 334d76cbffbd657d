# cython: freethreading_compatible=True
"""sherpa-onnx text to speech through its C API (VITS/Piper voices).

The library is loaded by ``_sherpa_lib`` (its ``sherpa_api()`` hands over the
one function table). sherpa-onnx's float32
output is converted to s16le (round to nearest, saturated; the
``voicecore.pcm`` kernel) straight into a ``bytes`` object; the GIL is
released during synthesis and taken only for a progress callback.
"""
cimport cython
from libc.stdint cimport int16_t, int32_t
from libc.stdlib cimport malloc, free
from libc.string cimport memset
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from cpython.ref cimport Py_INCREF, Py_DECREF

from voicecore._native.media.pcm cimport f32_to_s16 as _f32_to_s16
from voicecore._native.providers._sherpa_capi cimport *
from voicecore._native.providers._sherpa_lib cimport sherpa_api

import os

from voicecore._native.providers._sherpa_lib import check_files


cdef bytes _b(s):
    return os.fsencode(s) if s is not None else b""

__all__ = ["OfflineTts"]


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
    cdef const vc_sherpa_api* _api     # the loaded C API (NULL until __init__ got it)
    cdef const SherpaOnnxOfflineTts* _tts
    cdef readonly int sample_rate
    cdef readonly int num_speakers

    def __cinit__(self):
        self._api = NULL
        self._tts = NULL

    def __init__(self, *, model, tokens, data_dir="", lexicon="", int num_threads=2,
                 provider="cpu", float noise_scale=0.0, float noise_scale_w=0.0,
                 float length_scale=0.0, int max_num_sentences=1, float silence_scale=0.0,
                 bint debug=False):
        cdef const vc_sherpa_api* api = sherpa_api()
        self._api = api
        check_files("OfflineTts", model=model, tokens=tokens)
        if lexicon:
            for i, lex in enumerate(str(lexicon).split(",")):
                check_files("OfflineTts", **{f"lexicon[{i}]": lex})
        if data_dir and not os.path.isdir(data_dir):
            raise FileNotFoundError(f"OfflineTts: data_dir: no such directory: {data_dir!r}")
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
            self._tts = api.CreateOfflineTts(&cfg)
        if self._tts == NULL:
            raise RuntimeError(
                f"sherpa-onnx rejected the TTS model {model!r} (tokens={tokens!r}); a Piper voice "
                "needs sherpa-onnx metadata in the ONNX file (python -m voicecore.models fetch piper-joe)"
            )
        self.sample_rate = api.OfflineTtsSampleRate(self._tts)
        self.num_speakers = api.OfflineTtsNumSpeakers(self._tts)

    def __dealloc__(self):
        if self._tts != NULL and self._api != NULL:
            self._api.DestroyOfflineTts(self._tts)
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
        if self._api == NULL or self._tts == NULL:
            raise ValueError("OfflineTts.generate_pcm16: the engine is not initialised")
        for s in phonemes:
            if isinstance(s, str):
                s = [ord(c) for c in s]
            else:
                s = [int(c) for c in s]
            if s:
                sentences.append(s)
        if speed <= 0:
            raise ValueError(f"OfflineTts.generate_pcm16: speed must be > 0, got {speed}")
        if sid < 0 or (self.num_speakers > 0 and sid >= self.num_speakers):
            raise ValueError(f"OfflineTts.generate_pcm16: sid must be 0..{max(self.num_speakers - 1, 0)} "
                             f"(the model has {self.num_speakers} speakers), got {sid}")
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
        cdef const vc_sherpa_api* api = self._api
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
                    audio = api.OfflineTtsGenerateWithConfig(self._tts, b"", &g, _tts_trampoline, &ctx)
                else:
                    audio = api.OfflineTtsGenerateWithConfig(self._tts, b"", &g, NULL, NULL)
            if ctx.error != NULL:
                err = <object>ctx.error
                Py_DECREF(err)
                if audio != NULL:
                    api.DestroyOfflineTtsGeneratedAudio(audio)
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
                api.DestroyOfflineTtsGeneratedAudio(audio)
            free(cps)
            free(lens)
