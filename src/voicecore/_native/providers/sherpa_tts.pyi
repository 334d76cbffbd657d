"""Type stub of voicecore._native.providers.sherpa_tts (sherpa-onnx text to speech)."""

from collections.abc import Callable, Sequence
from typing import final

__all__ = ["OfflineTts"]

@final
class OfflineTts:
    sample_rate: int
    num_speakers: int
    def __init__(
        self,
        *,
        model: str,
        tokens: str,
        data_dir: str = "",
        lexicon: str = "",
        num_threads: int = 2,
        provider: str = "cpu",
        noise_scale: float = 0.0,
        noise_scale_w: float = 0.0,
        length_scale: float = 0.0,
        max_num_sentences: int = 1,
        silence_scale: float = 0.0,
        debug: bool = False,
    ) -> None: ...
    def generate_pcm16(
        self,
        phonemes: Sequence[Sequence[int] | str],
        sid: int = 0,
        speed: float = 1.0,
        callback: Callable[[bytes], bool | None] | None = None,
    ) -> bytes: ...
