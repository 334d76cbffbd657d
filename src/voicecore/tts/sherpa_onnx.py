"""sherpa-onnx text-to-speech provider (drop-in for ``roomkit.voice.tts.sherpa_onnx``).

Same names, fields and defaults as roomkit's provider, and it works on
sherpa-onnx 2.x, where roomkit's produces no audio for Piper voices
(sherpa-onnx 2.x no longer phonemizes: ``data_dir`` is ignored and
``generate(text)`` returns zero samples):

- text is phonemized with espeak-ng (:mod:`voicecore.tts._phonemize`, an optional
  extra: ``pip install 'voicecore[phonemizer]'``; ``data_dir`` points at its
  data when given) and passed to sherpa-onnx's C API as phoneme code points;
- synthesis runs without the GIL; float32 -> s16le is native, straight into
  the ``bytes`` of each chunk;
- chunks carry the model's real sample rate (roomkit labels them with the
  config's);
- ``output_sample_rate`` (new, optional) resamples the output with
  ``voicecore.media.resample`` when that module is available.

Supported model type: ``"vits"`` (VITS/Piper). Kokoro and Kitten configs are
accepted for parity but the provider refuses them (ValueError).
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import re
import struct
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voicecore.base import AudioChunk, AudioContent
from voicecore.tts.base import TTSProvider

if TYPE_CHECKING:
    from voicecore.tts._context import TTSContext

__all__ = ["SherpaOnnxTTSConfig", "SherpaOnnxTTSProvider"]

logger = logging.getLogger(__name__)

_MODEL_TYPES = ("vits", "kokoro", "kitten")
_VOICES_BIN_TYPES = ("kokoro", "kitten")
_SUPPORTED_TYPES = ("vits",)


@dataclass
class SherpaOnnxTTSConfig:
    """Configuration for the sherpa-onnx TTS provider (roomkit's fields and defaults).

    Attributes:
        model: Path to the ``.onnx`` model (a Piper voice with sherpa-onnx
            metadata, see ``python -m voicecore.models fetch piper-joe``).
        tokens: Path to ``tokens.txt``.
        data_dir: The espeak-ng data directory (``espeak-ng-data``); empty,
            the phonemizer's own data is used.
        lexicon: Path to an optional lexicon file.
        speaker_id: Speaker id for multi-speaker models; the default voice.
        speed: Speech speed multiplier (1.0 = normal).
        sample_rate: The rate a caller sets its output up for, in Hz. Audio
            always carries the model's own rate (or ``output_sample_rate``).
        num_threads: CPU threads for inference.
        provider: ONNX execution provider (``"cpu"`` or ``"cuda"``).
        model_type: ``"vits"`` (VITS/Piper); ``"kokoro"``/``"kitten"`` are
            validated as in roomkit but not supported by this provider.
        voices: Path to ``voices.bin`` (Kokoro/Kitten).
        lang: espeak-ng voice the text is read with (``"en-us"``, ``"fr"``...).
            Empty: the Piper voice's ``espeak.voice`` from ``<model>.json``,
            else ``"en-us"``.
        voice_names: The model's speaker names, in speaker-id order.
        output_sample_rate: voicecore extension. 0 (default): chunks at the
            model's rate. Otherwise the output is resampled to this rate (Hz)
            with ``voicecore.media.resample``; ValueError when that is unavailable.
    """

    model: str = ""
    tokens: str = ""
    data_dir: str = ""
    lexicon: str = ""
    speaker_id: int = 0
    speed: float = 1.0
    sample_rate: int = 22050
    num_threads: int = 2
    provider: str = "cpu"
    model_type: str = "vits"
    voices: str = ""
    lang: str = ""
    voice_names: tuple[str, ...] = ()
    output_sample_rate: int = 0

    def __post_init__(self) -> None:
        if self.model_type not in _MODEL_TYPES:
            raise ValueError(
                f"Unknown sherpa-onnx TTS model_type {self.model_type!r}; expected one of "
                f"{_MODEL_TYPES}"
            )
        if self.model_type in _VOICES_BIN_TYPES and not self.voices:
            raise ValueError(
                f"A {self.model_type} model needs its voices.bin in SherpaOnnxTTSConfig.voices"
            )
        if self.output_sample_rate < 0:
            raise ValueError(f"output_sample_rate must be >= 0 Hz, got {self.output_sample_rate}")

    def speaker_id_for(self, voice: str | None) -> int:
        """The speaker id of ``voice``: a name in :attr:`voice_names`, or an id.

        Raises:
            ValueError: ``voice`` is neither a known name nor a number.
        """
        if voice is None:
            return self.speaker_id
        if voice in self.voice_names:
            return self.voice_names.index(voice)
        try:
            return int(voice)
        except ValueError:
            named = ", ".join(self.voice_names) or "none (this config names no voices)"
            raise ValueError(f"Unknown voice {voice!r}; named voices: {named}") from None


def wrap_wav(pcm: bytes, sample_rate: int, num_channels: int = 1) -> bytes:
    """A RIFF/WAVE file of 16-bit PCM ``pcm`` at ``sample_rate`` Hz."""
    block = 2 * num_channels
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(pcm), b"WAVE", b"fmt ", 16, 1, num_channels, sample_rate,
        sample_rate * block, block, 16, b"data", len(pcm),
    )
    return header + pcm


_PARAGRAPH_RE = re.compile(r"\n\n+")
_SENTENCE_RE = re.compile(r"(?<=[.!?])\s+")


def _split_text(text: str, max_chars: int = 300) -> list[str]:
    """Sentence-sized pieces of ``text`` (as roomkit's provider splits them):
    paragraphs, then sentences, short fragments (< 40 chars) merged, pieces
    over ``max_chars`` broken at line breaks, then whitespace."""
    text = text.strip()
    if not text:
        return []
    pieces: list[str] = []
    for para in (p.strip() for p in _PARAGRAPH_RE.split(text)):
        if not para:
            continue
        merged: list[str] = []
        for sent in (s.strip() for s in _SENTENCE_RE.split(para)):
            if not sent:
                continue
            if merged and len(merged[-1]) < 40:
                merged[-1] = f"{merged[-1]} {sent}"
            else:
                merged.append(sent)
        pieces.extend(merged)
    out: list[str] = []
    for piece in pieces:
        if len(piece) <= max_chars:
            out.append(piece)
            continue
        buf = ""
        for line in piece.split("\n"):
            candidate = f"{buf}\n{line}".strip() if buf else line
            if len(candidate) <= max_chars:
                buf = candidate
                continue
            if buf:
                out.append(buf)
            buf = ""
            if len(line) <= max_chars:
                buf = line
                continue
            for word in line.split():
                candidate = f"{buf} {word}" if buf else word
                if len(candidate) <= max_chars:
                    buf = candidate
                else:
                    if buf:
                        out.append(buf)
                    buf = word
        if buf:
            out.append(buf)
    return out


def _resampler_factory(src_rate: int, dst_rate: int) -> Any:
    """A streaming s16le resampler from voicecore.resample, or ValueError."""
    try:
        from voicecore.media.resample import Resampler  # type: ignore[import-not-found]
    except ImportError as exc:
        raise ValueError(
            f"output_sample_rate={dst_rate} needs voicecore's native resampler "
            "(voicecore.media.resample), which is not available in this build; leave "
            "output_sample_rate at 0 to get the model's own rate "
            f"({src_rate} Hz)"
        ) from exc
    return lambda: Resampler(src_rate, dst_rate)


def _resample_call(resampler: Any, pcm: bytes) -> bytes:
    for meth in ("process", "resample", "__call__"):
        fn = getattr(resampler, meth, None)
        if fn is not None:
            return bytes(fn(pcm))
    raise TypeError("voicecore.media.resample.Resampler has no process()/resample() method")


def _resample_flush(resampler: Any) -> bytes:
    fn = getattr(resampler, "flush", None)
    return bytes(fn()) if fn is not None else b""


class SherpaOnnxTTSProvider(TTSProvider):
    """Text-to-speech with sherpa-onnx's C API and an espeak-ng phonemizer
    (VITS/Piper voices)."""

    def __init__(self, config: SherpaOnnxTTSConfig) -> None:
        if config.model_type not in _SUPPORTED_TYPES:
            raise ValueError(
                f"voicecore's sherpa-onnx TTS provider supports model_type {_SUPPORTED_TYPES} "
                f"(VITS/Piper), got {config.model_type!r}"
            )
        if config.speed <= 0 or config.speed != config.speed:
            raise ValueError(f"speed must be > 0, got {config.speed!r}")
        from voicecore._native.providers import sherpa as native, sherpa_tts

        try:
            native.load()
        except ImportError as exc:
            raise ImportError(
                "sherpa-onnx is required for SherpaOnnxTTSProvider. Install it with: "
                f"pip install 'voicecore[sherpa-onnx]' ({exc})"
            ) from exc
        self._native = sherpa_tts
        self._config = config
        self._tts: Any = None
        self._phonemizer: Any = None
        self._resampler_new: Any = None
        self._load_lock = threading.Lock()

    @property
    def name(self) -> str:
        return "SherpaOnnxTTS"

    @property
    def default_voice(self) -> str:
        names = self._config.voice_names
        sid = self._config.speaker_id
        return names[sid] if 0 <= sid < len(names) else str(sid)

    # ------------------------------------------------------------ loading
    def _espeak_voice(self) -> str:
        if self._config.lang:
            return self._config.lang
        meta = f"{self._config.model}.json"
        if os.path.isfile(meta):
            try:
                with open(meta, encoding="utf-8") as f:
                    cfg = json.load(f)
                voice = cfg.get("espeak", {}).get("voice")
                if voice:
                    return str(voice)
            except (OSError, ValueError):
                logger.warning("could not read the voice's espeak settings from %s", meta)
        return "en-us"

    def _load(self) -> tuple[Any, Any]:
        cfg = self._config
        from voicecore.tts._phonemize import EspeakPhonemizer

        phonemizer = EspeakPhonemizer(self._espeak_voice(), cfg.data_dir or None)
        if cfg.output_sample_rate:  # fail before the model is read
            _resampler_factory(cfg.sample_rate, cfg.output_sample_rate)
        tts = self._native.OfflineTts(
            model=cfg.model, tokens=cfg.tokens, lexicon=cfg.lexicon,
            num_threads=cfg.num_threads, provider=cfg.provider,
        )
        if cfg.output_sample_rate and cfg.output_sample_rate != tts.sample_rate:
            self._resampler_new = _resampler_factory(tts.sample_rate, cfg.output_sample_rate)
        logger.info("TTS model loaded: sample_rate=%d, num_speakers=%d",
                    tts.sample_rate, tts.num_speakers)
        return tts, phonemizer

    def _get(self) -> tuple[Any, Any]:
        with self._load_lock:
            if self._tts is None:
                self._tts, self._phonemizer = self._load()
        return self._tts, self._phonemizer

    async def _engine(self) -> tuple[Any, Any]:
        if self._tts is not None:
            return self._tts, self._phonemizer
        return await asyncio.to_thread(self._get)

    async def warmup(self) -> None:
        """Load the model and the phonemizer now (in a worker thread)."""
        await self._engine()

    async def close(self) -> None:
        """Drop the loaded engine."""
        with self._load_lock:
            self._tts = None
            self._phonemizer = None

    @property
    def output_rate(self) -> int | None:
        """The rate (Hz) of the audio this provider yields, once loaded."""
        if self._tts is None:
            return None
        return self._config.output_sample_rate or self._tts.sample_rate

    # ------------------------------------------------------------ synthesis
    async def synthesize(self, text: str, *, voice: str | None = None) -> AudioContent:
        """Synthesize ``text``; returns AudioContent with a ``data:`` URL of a
        WAV file (s16le mono at :attr:`output_rate` Hz)."""
        tts, phonemizer = await self._engine()
        sid = self._config.speaker_id_for(voice)
        speed = self._config.speed
        pieces = _split_text(text)

        def _run() -> bytes:
            out = bytearray()
            rs = self._resampler_new() if self._resampler_new else None
            for piece in pieces:
                pcm = tts.generate_pcm16(phonemizer.codepoints(piece), sid=sid, speed=speed)
                out += _resample_call(rs, pcm) if rs is not None else pcm
            if rs is not None:
                out += _resample_flush(rs)
            return bytes(out)

        t0 = time.monotonic()
        pcm = await asyncio.to_thread(_run)
        telemetry = getattr(self, "_telemetry", None)
        if telemetry is not None:
            telemetry.record_metric("roomkit.tts.synthesis_ms", (time.monotonic() - t0) * 1000,
                                    unit="ms", attributes={"provider": "sherpa_onnx"})
        rate = self._config.output_sample_rate or tts.sample_rate
        wav = wrap_wav(pcm, rate)
        return AudioContent(
            url=f"data:audio/wav;base64,{base64.b64encode(wav).decode()}",
            mime_type="audio/wav",
            transcript=text,
            duration_seconds=(len(pcm) // 2) / rate if rate else None,
        )

    async def synthesize_stream(
        self, text: str, *, voice: str | None = None, context: TTSContext | None = None
    ) -> AsyncIterator[AudioChunk]:
        """Stream s16le chunks as sherpa-onnx produces them, then a final empty
        chunk with ``is_final=True``. Chunks carry the model's real rate (or
        ``output_sample_rate``). Closing the stream early (barge-in) stops the
        synthesis; a synthesis error is raised to the reader."""
        tts, phonemizer = await self._engine()
        sid = self._config.speaker_id_for(voice)
        speed = self._config.speed
        rate = self._config.output_sample_rate or tts.sample_rate
        pieces = _split_text(text)

        queue: asyncio.Queue[AudioChunk | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()
        stopped = threading.Event()
        rs = self._resampler_new() if self._resampler_new else None

        def _push(pcm: bytes) -> None:
            if pcm:
                chunk = AudioChunk(data=pcm, sample_rate=rate, format="pcm_s16le", is_final=False)
                loop.call_soon_threadsafe(queue.put_nowait, chunk)

        def _callback(pcm: bytes) -> bool:
            if stopped.is_set():
                return False
            _push(_resample_call(rs, pcm) if rs is not None else pcm)
            return True

        def _run() -> None:
            try:
                for piece in pieces:
                    if stopped.is_set():
                        return
                    cps = phonemizer.codepoints(piece)
                    tts.generate_pcm16(cps, sid=sid, speed=speed, callback=_callback)
                if rs is not None and not stopped.is_set():
                    _push(_resample_flush(rs))
            finally:
                loop.call_soon_threadsafe(queue.put_nowait, None)

        task = loop.run_in_executor(None, _run)
        try:
            while True:
                item = await queue.get()
                if item is None:
                    break
                yield item
        finally:
            stopped.set()
            await task
        yield AudioChunk(data=b"", sample_rate=rate, format="pcm_s16le", is_final=True)
