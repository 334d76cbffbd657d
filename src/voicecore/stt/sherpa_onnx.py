"""sherpa-onnx speech-to-text provider (drop-in for ``roomkit.voice.stt.sherpa_onnx``).

Same names, fields, defaults and behaviour as roomkit's provider, with the
audio path moved to native code: s16le PCM goes to float32 in one native pass
into a per-stream buffer and reaches sherpa-onnx by pointer through its C API
(:mod:`voicecore._native.providers.sherpa`), with the GIL released during accept and
decode. No Python list of floats anywhere.

Beyond roomkit: Moonshine v2 offline models (``mode="moonshine"``), and
:meth:`SherpaOnnxSTTProvider.transcribe_many`, which decodes many utterances
in one multi-stream call of the C API (for servers running many calls).

sherpa-onnx (``pip install 'voicecore[sherpa-onnx]'``, 2.0.x) is needed only
to use the provider; importing this module checks an installed sherpa-onnx
against the series the binding supports and raises ImportError on a mismatch.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.metadata
import logging
import math
import threading
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from voicecore.base import AudioChunk, TranscriptionResult, require_pcm16

if TYPE_CHECKING:
    from voicecore.audio_frame import AudioFrame
    from voicecore.base import AudioContent

from voicecore.stt.base import STTProvider

__all__ = ["SherpaOnnxSTTConfig", "SherpaOnnxSTTProvider"]

logger = logging.getLogger(__name__)

# Modes whose models transcribe a whole utterance, never a stream.
_OFFLINE_MODES = ("whisper", "moonshine")
_MODES = ("transducer", *_OFFLINE_MODES)


def _check_installed_series() -> None:
    """Fail at import when an installed sherpa-onnx is of another series."""
    try:
        installed = importlib.metadata.version("sherpa-onnx")
    except importlib.metadata.PackageNotFoundError:
        return  # not installed: the provider's constructor says so
    from voicecore._native.providers import sherpa as _native

    if ".".join(installed.split(".")[:2]) != _native.SUPPORTED_SERIES:
        raise ImportError(
            f"sherpa-onnx {installed} is installed, but voicecore's sherpa-onnx binding "
            f"supports the {_native.SUPPORTED_SERIES}.x series only (its C structs change "
            f"between series): pip install 'sherpa-onnx~={_native.SUPPORTED_SERIES}.0'"
        )


_check_installed_series()


def _native_module() -> Any:
    try:
        from voicecore._native.providers import sherpa as native
    except ImportError as exc:  # pragma: no cover - broken install
        raise ImportError(f"voicecore's sherpa-onnx binding is missing: {exc}") from exc
    try:
        native.load()
    except ImportError as exc:
        raise ImportError(
            "sherpa-onnx is required for SherpaOnnxSTTProvider. Install it with: "
            f"pip install 'voicecore[sherpa-onnx]' ({exc})"
        ) from exc
    return native


@dataclass
class SherpaOnnxSTTConfig:
    """Configuration for the sherpa-onnx STT provider (roomkit's fields and defaults).

    Attributes:
        mode: ``"transducer"`` (streaming and batch), ``"whisper"`` or
            ``"moonshine"`` (Moonshine v2: an encoder and a merged decoder,
            ``.ort`` files); whisper and moonshine transcribe each utterance
            once it ends (batch only).
        tokens: Path to ``tokens.txt``.
        encoder: Path to the encoder ``.onnx`` (or ``.ort``) model.
        decoder: Path to the decoder model (merged decoder for Moonshine).
        joiner: Path to the joiner ``.onnx`` model (transducer only).
        model_type: Model type hint for sherpa-onnx (e.g. ``"nemo_transducer"``).
            When set, the model is treated as offline-only (no streaming).
        language: Language code (Whisper only).
        stream_language: Language a multilingual streaming transducer is told
            on each stream; empty, none is set. Set, a per-call ``language``
            overrides it.
        task: Whisper task, ``"transcribe"`` or ``"translate"``.
        sample_rate: The model's feature sample rate in Hz (audio at other
            rates is resampled by sherpa-onnx).
        num_threads: CPU threads for inference.
        provider: ONNX execution provider (``"cpu"`` or ``"cuda"``).
        enable_endpoint_detection: Enable sherpa-onnx endpoint detection.
        rule1_min_trailing_silence: Endpoint rule 1: trailing silence (s).
        rule2_min_trailing_silence: Endpoint rule 2: trailing silence (s) after
            decoded text.
        rule3_min_utterance_length: Endpoint rule 3: utterance length (s).
        tail_padding_s: Silence (s) fed to a streaming transducer before
            ``input_finished()``, so its last frames are decoded. Finite, >= 0.
    """

    mode: str = "transducer"
    tokens: str = ""
    encoder: str = ""
    decoder: str = ""
    joiner: str = ""
    model_type: str = ""
    language: str = "en"
    stream_language: str = ""
    task: str = "transcribe"
    sample_rate: int = 16000
    num_threads: int = 2
    provider: str = "cpu"
    enable_endpoint_detection: bool = True
    rule1_min_trailing_silence: float = 2.4
    rule2_min_trailing_silence: float = 1.2
    rule3_min_utterance_length: float = 20.0
    tail_padding_s: float = 0.66


def _pcm_of(audio: Any, default_rate: int) -> tuple[Any, int]:
    """(s16le buffer, sample rate in Hz) of an AudioChunk / AudioFrame."""
    if hasattr(audio, "url"):
        raise ValueError(
            "SherpaOnnxSTTProvider does not support URL-based AudioContent. "
            "Provide raw AudioChunk data instead."
        )
    if isinstance(audio, AudioChunk):
        require_pcm16(audio, "SherpaOnnxSTTProvider")
    channels = getattr(audio, "channels", 1)
    if channels != 1:
        raise ValueError(f"SherpaOnnxSTTProvider transcribes mono audio, got {channels} channels")
    width = getattr(audio, "sample_width", 2)
    if width != 2:
        raise ValueError(f"SherpaOnnxSTTProvider transcribes 16-bit PCM (sample_width 2), got sample_width {width}")
    sample_rate = getattr(audio, "sample_rate", None) or default_rate
    return audio.data, int(sample_rate)


class SherpaOnnxSTTProvider(STTProvider):
    """Speech-to-text with sherpa-onnx through its C API.

    Transducer models stream and batch; Whisper and Moonshine batch only.
    """

    def __init__(self, config: SherpaOnnxSTTConfig) -> None:
        if config.mode not in _MODES:
            raise ValueError(f"Unknown sherpa-onnx STT mode {config.mode!r}; expected one of {_MODES}")
        if not math.isfinite(config.tail_padding_s) or config.tail_padding_s < 0:
            raise ValueError(
                f"tail_padding_s must be a finite number >= 0, got {config.tail_padding_s!r}"
            )
        if config.sample_rate <= 0:
            raise ValueError(f"sample_rate must be > 0 Hz, got {config.sample_rate}")
        self._native = _native_module()
        self._config = config
        self._online_recognizer: Any = None
        self._offline_recognizer: Any = None
        self._load_lock = threading.Lock()

    # ------------------------------------------------------------ properties
    @property
    def name(self) -> str:
        return "SherpaOnnxSTT"

    @property
    def supports_language_override(self) -> bool:
        return bool(self._config.stream_language)

    @property
    def supports_streaming(self) -> bool:
        if self._config.model_type:
            return False
        return self._config.mode == "transducer"

    @property
    def _uses_online(self) -> bool:
        return self._config.mode == "transducer" and not self._config.model_type

    # ------------------------------------------------------------ loading
    def _load_online_recognizer(self) -> Any:
        cfg = self._config
        return self._native.OnlineRecognizer(
            tokens=cfg.tokens,
            encoder=cfg.encoder,
            decoder=cfg.decoder,
            joiner=cfg.joiner,
            sample_rate=cfg.sample_rate,
            feature_dim=80,
            num_threads=cfg.num_threads,
            provider=cfg.provider,
            enable_endpoint=cfg.enable_endpoint_detection,
            rule1_min_trailing_silence=cfg.rule1_min_trailing_silence,
            rule2_min_trailing_silence=cfg.rule2_min_trailing_silence,
            rule3_min_utterance_length=cfg.rule3_min_utterance_length,
        )

    def _load_offline_recognizer(self) -> Any:
        cfg = self._config
        return self._native.OfflineRecognizer(
            kind=cfg.mode,
            tokens=cfg.tokens,
            encoder=cfg.encoder,
            decoder=cfg.decoder,
            joiner=cfg.joiner,
            language=cfg.language,
            task=cfg.task,
            sample_rate=cfg.sample_rate,
            feature_dim=80,
            num_threads=cfg.num_threads,
            provider=cfg.provider,
            model_type=cfg.model_type,
        )

    def _get_online_recognizer(self) -> Any:
        with self._load_lock:
            if self._online_recognizer is None:
                self._online_recognizer = self._load_online_recognizer()
        return self._online_recognizer

    def _get_offline_recognizer(self) -> Any:
        with self._load_lock:
            if self._offline_recognizer is None:
                self._offline_recognizer = self._load_offline_recognizer()
        return self._offline_recognizer

    async def _online(self) -> Any:
        if self._online_recognizer is not None:
            return self._online_recognizer
        return await asyncio.to_thread(self._get_online_recognizer)

    async def _offline(self) -> Any:
        if self._offline_recognizer is not None:
            return self._offline_recognizer
        return await asyncio.to_thread(self._get_offline_recognizer)

    async def warmup(self) -> None:
        """Load the model now (in a worker thread) instead of on first use."""
        if self._uses_online:
            await self._online()
        else:
            await self._offline()
        logger.info("STT model warmed up (mode=%s)", self._config.mode)

    async def close(self) -> None:
        """Drop the loaded recognizers (freed once no stream uses them)."""
        with self._load_lock:
            self._online_recognizer = None
            self._offline_recognizer = None

    # ------------------------------------------------------------ helpers
    def _online_stream(self, recognizer: Any, language: str | None) -> Any:
        stream = recognizer.create_stream()
        if self._config.stream_language:
            stream.set_option("language", language or self._config.stream_language)
        return stream

    def _finish(self, stream: Any, sample_rate: int) -> None:
        n = int(self._config.tail_padding_s * sample_rate)
        if n > 0:
            stream.accept_silence(n, sample_rate)
        stream.input_finished()

    def _record(self, inference_ms: float) -> None:
        telemetry = getattr(self, "_telemetry", None)
        if telemetry is not None:
            telemetry.record_metric(
                "roomkit.stt.inference_ms", inference_ms, unit="ms",
                attributes={"provider": "sherpa_onnx", "mode": self._config.mode},
            )

    # ------------------------------------------------------------ batch
    async def transcribe(
        self,
        audio: AudioContent | AudioChunk | AudioFrame,
        *,
        language: str | None = None,
    ) -> TranscriptionResult:
        """Transcribe one complete utterance of s16le mono PCM (any sample rate;
        sherpa-onnx resamples to the model's ``sample_rate``)."""
        data, sample_rate = _pcm_of(audio, self._config.sample_rate)
        if self._uses_online:
            recognizer = await self._online()

            def _run() -> str:
                stream = self._online_stream(recognizer, language)
                try:
                    stream.accept_pcm16(data, sample_rate)
                    self._finish(stream, sample_rate)
                    stream.decode()
                    return stream.text.strip()
                finally:
                    stream.close()
        else:
            recognizer = await self._offline()

            def _run() -> str:
                return recognizer.transcribe_pcm16(data, sample_rate).strip()

        t0 = time.monotonic()
        text = await asyncio.to_thread(_run)
        self._record((time.monotonic() - t0) * 1000)
        return TranscriptionResult(text=text)

    async def transcribe_many(
        self,
        audios: Sequence[AudioChunk | AudioFrame],
        *,
        language: str | None = None,
    ) -> list[TranscriptionResult]:
        """Transcribe many complete utterances at once: one stream each, decoded
        together by the C API's multi-stream decode (``DecodeMultiple*Streams``)
        in one worker thread without the GIL. Results are in input order."""
        pcm = [_pcm_of(a, self._config.sample_rate) for a in audios]
        if not pcm:
            return []
        if self._uses_online:
            recognizer = await self._online()

            def _run() -> list[str]:
                streams = [self._online_stream(recognizer, language) for _ in pcm]
                try:
                    for s, (data, rate) in zip(streams, pcm, strict=True):
                        s.accept_pcm16(data, rate)
                        self._finish(s, rate)
                    recognizer.decode_streams(streams)
                    return [s.text.strip() for s in streams]
                finally:
                    for s in streams:
                        s.close()
        else:
            recognizer = await self._offline()

            def _run() -> list[str]:
                streams = [recognizer.create_stream() for _ in pcm]
                try:
                    for s, (data, rate) in zip(streams, pcm, strict=True):
                        s.accept_pcm16(data, rate)
                    recognizer.decode_streams(streams)
                    return [s.text.strip() for s in streams]
                finally:
                    for s in streams:
                        s.close()

        t0 = time.monotonic()
        texts = await asyncio.to_thread(_run)
        self._record((time.monotonic() - t0) * 1000)
        return [TranscriptionResult(text=t) for t in texts]

    # ------------------------------------------------------------ streaming
    async def transcribe_stream(
        self,
        audio_stream: AsyncIterator[AudioChunk],
        *,
        language: str | None = None,
    ) -> AsyncIterator[TranscriptionResult]:
        """Stream transcription with partial results (transducer mode only).

        Each chunk is converted and accepted on the event loop (a few
        microseconds, GIL released); the decode runs in a worker thread, and
        only when sherpa-onnx has a frame ready. A partial result is yielded
        whenever the text changes, ``is_final=True`` at an endpoint (the stream
        then starts a new utterance) and once more for the text left at the
        end of the stream. All chunks of a stream must share one sample rate
        (ValueError otherwise).
        """
        if self._config.mode in _OFFLINE_MODES:
            raise ValueError(
                f"Streaming transcription is not supported for {self._config.mode} mode. "
                "Use transcribe() for batch recognition instead."
            )
        if self._config.model_type:
            raise ValueError(
                f"Streaming transcription is not supported for model_type "
                f"{self._config.model_type!r} (offline only). Use transcribe() instead."
            )

        recognizer = await self._online()
        stream = self._online_stream(recognizer, language)
        last_text = ""
        sample_rate = self._config.sample_rate
        try:
            async for chunk in audio_stream:
                if chunk.data:
                    require_pcm16(chunk, "SherpaOnnxSTTProvider")
                    sample_rate = chunk.sample_rate or self._config.sample_rate
                    stream.accept_pcm16(chunk.data, sample_rate)
                    if stream.is_ready():
                        await asyncio.to_thread(stream.decode)
                    text = stream.text.strip()
                    # Unlike roomkit (which asks only when the text changed, so a
                    # silence after speech never ends the utterance), the endpoint
                    # rules are checked after every chunk.
                    if stream.is_endpoint():
                        stream.reset()
                        if text:
                            yield TranscriptionResult(text=text, is_final=True)
                        last_text = ""
                    elif text and text != last_text:
                        yield TranscriptionResult(text=text, is_final=False)
                        last_text = text
                if chunk.is_final:
                    break

            def _finalize() -> str:
                self._finish(stream, sample_rate)
                stream.decode()
                return stream.text.strip()

            final_text = await asyncio.to_thread(_finalize)
            if final_text:
                yield TranscriptionResult(text=final_text, is_final=True)
        finally:
            # A decode still running in its thread keeps the stream busy (and
            # alive); it is freed when that thread lets go of it.
            with contextlib.suppress(RuntimeError):
                stream.close()
