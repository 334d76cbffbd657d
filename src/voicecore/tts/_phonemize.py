"""Text -> IPA phonemes with espeak-ng, for Piper/VITS voices on sherpa-onnx 2.x.

sherpa-onnx 2.x no longer phonemizes Piper text itself: the caller passes
phonemes as Unicode code points, one list per sentence. This module produces
them the way Piper does: espeak-ng IPA per clause, the clause's punctuation
kept (``,`` ``;`` ``:`` ``.`` ``?`` ``!``), clauses joined by a space, one
entry per sentence, NFD-normalised.

espeak-ng is GPL-3, so it is an optional extra, found at run time:

1. ``espeakng-loader`` (PyPI wheel with ``libespeak-ng`` and its data;
   ``pip install 'voicecore[phonemizer]'``),
2. else the system library ``libespeak-ng`` (Debian: ``apt-get install
   espeak-ng``) with its default data.

``data_dir`` (``SherpaOnnxTTSConfig.data_dir``) overrides the data directory
(the ``espeak-ng-data`` folder). espeak-ng keeps global state, so calls are
serialised by a lock.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import re
import threading
import unicodedata

__all__ = ["EspeakPhonemizer", "PhonemizerUnavailable", "split_clauses"]

_AUDIO_OUTPUT_SYNCHRONOUS = 2
_CHARS_UTF8 = 1
_PHONEMES_IPA = 0x02
_EE_OK = 0


class PhonemizerUnavailable(ImportError):
    """No espeak-ng library could be found or initialised."""


# A clause ends at one of these; sentence ends are . ? !
_CLAUSE_RE = re.compile(r"([^.,;:!?]*)([.,;:!?]+|$)", re.S)
_SENTENCE_END = set(".?!")


def split_clauses(text: str) -> list[list[tuple[str, str]]]:
    """Split text into sentences, each a list of ``(clause text, punctuation)``."""
    sentences: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    for m in _CLAUSE_RE.finditer(text):
        words, punct = m.group(1).strip(), m.group(2)
        if not words and not punct:
            continue
        p = punct[0] if punct else ""
        if words:
            current.append((words, p))
        elif current and p and not current[-1][1]:
            current[-1] = (current[-1][0], p)
        if p in _SENTENCE_END and current:
            sentences.append(current)
            current = []
    if current:
        sentences.append(current)
    return sentences


def _find_library(data_dir: str | None) -> tuple[str, str | None]:
    """(library path, data directory or None for the library's default)."""
    try:
        import espeakng_loader
    except ImportError:
        espeakng_loader = None
    if espeakng_loader is not None:
        lib = espeakng_loader.get_library_path()
        data = data_dir or espeakng_loader.get_data_path()
        return lib, data
    name = ctypes.util.find_library("espeak-ng")
    if name is None:
        raise PhonemizerUnavailable(
            "Piper/VITS voices on sherpa-onnx 2.x need espeak-ng to phonemize text: "
            "pip install 'voicecore[phonemizer]' (espeakng-loader), or install the "
            "system package (Debian/Ubuntu: apt-get install espeak-ng)"
        )
    return name, data_dir or None


class EspeakPhonemizer:
    """espeak-ng IPA phonemizer (process-wide library, one lock).

    ``voice``: espeak-ng voice, e.g. ``"en-us"`` (a Piper voice's
    ``espeak.voice``). ``data_dir``: the ``espeak-ng-data`` directory, or None.
    """

    _lock = threading.Lock()
    _lib: ctypes.CDLL | None = None
    _lib_key: tuple[str, str | None] | None = None
    _voice: str | None = None
    _data_path: str | None = None

    def __init__(self, voice: str = "en-us", data_dir: str | None = None) -> None:
        if data_dir and not os.path.isdir(data_dir):
            raise FileNotFoundError(f"data_dir: no such espeak-ng data directory: {data_dir!r}")
        self.voice = voice
        self._key = _find_library(data_dir or None)
        with self._lock:
            self._ensure()

    def _ensure(self) -> ctypes.CDLL:
        cls = type(self)
        if cls._lib is not None:
            lib_path, data = self._key
            same_lib = lib_path == cls._lib_key[0]
            same_data = data is None or os.path.realpath(data) == os.path.realpath(cls._data_path or "")
            if same_lib and same_data:
                return cls._lib
            raise PhonemizerUnavailable(
                f"espeak-ng is already initialised with {cls._lib_key[0]} and data "
                f"{cls._data_path!r}; one library and data directory per process"
            )
        lib_path, data = self._key
        try:
            lib = ctypes.CDLL(lib_path)
        except OSError as exc:
            raise PhonemizerUnavailable(f"cannot load espeak-ng ({lib_path}): {exc}") from exc
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetVoiceByName.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [
            ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int,
        ]
        # espeak_Initialize takes the directory that *contains* espeak-ng-data.
        arg = None
        if data:
            arg = os.path.dirname(os.path.abspath(data)) if os.path.basename(
                os.path.normpath(data)) == "espeak-ng-data" else data
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0,
                                     os.fsencode(arg) if arg else None, 0)
        if rate <= 0:
            raise PhonemizerUnavailable(f"espeak-ng failed to initialise (data: {data!r})")
        lib.espeak_Info.restype = ctypes.c_char_p
        lib.espeak_Info.argtypes = [ctypes.POINTER(ctypes.c_char_p)]
        path_data = ctypes.c_char_p()
        lib.espeak_Info(ctypes.byref(path_data))
        cls._data_path = os.fsdecode(path_data.value) if path_data.value else data
        cls._lib, cls._lib_key, cls._voice = lib, self._key, None
        return lib

    def _set_voice(self, lib: ctypes.CDLL) -> None:
        cls = type(self)
        if cls._voice != self.voice:
            if lib.espeak_SetVoiceByName(self.voice.encode()) != _EE_OK:
                raise ValueError(f"espeak-ng has no voice {self.voice!r}")
            cls._voice = self.voice

    def _clause(self, lib: ctypes.CDLL, text: str) -> str:
        buf = ctypes.create_string_buffer(text.encode("utf-8"))
        ptr = ctypes.c_void_p(ctypes.addressof(buf))
        parts: list[str] = []
        while ptr.value:
            out = lib.espeak_TextToPhonemes(ctypes.byref(ptr), _CHARS_UTF8, _PHONEMES_IPA)
            if out:
                s = out.decode("utf-8", "replace").strip()
                if s:
                    parts.append(s)
        return " ".join(parts)

    def phonemize(self, text: str) -> list[str]:
        """IPA phonemes of ``text``, one NFD string per sentence."""
        out: list[str] = []
        with self._lock:
            lib = self._ensure()
            self._set_voice(lib)
            for sentence in split_clauses(text):
                pieces: list[str] = []
                for words, punct in sentence:
                    ph = self._clause(lib, words)
                    if ph or punct:
                        pieces.append(ph + punct)
                s = unicodedata.normalize("NFD", " ".join(pieces).strip())
                if s:
                    out.append(s)
        return out

    def codepoints(self, text: str) -> list[list[int]]:
        """:meth:`phonemize` as lists of Unicode code points (sherpa-onnx's input)."""
        return [[ord(c) for c in s] for s in self.phonemize(text)]
