"""Type stub of voicecore._native.providers.sherpa (sherpa-onnx C API binding)."""

from collections.abc import Buffer, Callable, Iterable, Sequence
from os import PathLike

from typing import final

import numpy as np
import numpy.typing as npt

__all__ = [
    "SUPPORTED_SERIES", "OfflineRecognizer", "OfflineStream", "OfflineTts",
    "OnlineRecognizer", "OnlineStream", "f32_to_s16le", "is_loaded", "library_path",
    "load", "s16le_to_f32", "version",
]


SUPPORTED_SERIES: str

def library_path() -> str: ...
def load(path: str | PathLike[str] | None = None) -> str: ...
def is_loaded() -> bool: ...
def version() -> str: ...
def s16le_to_f32(data: Buffer, out: npt.NDArray[np.float32] | None = None) -> npt.NDArray[np.float32]: ...
def f32_to_s16le(samples: Buffer) -> bytes: ...

@final
class OnlineStream:
    def __new__(cls, recognizer: OnlineRecognizer) -> OnlineStream: ...
    @property
    def stream_sample_rate(self) -> int: ...
    def accept_pcm16(self, data: Buffer, sample_rate: int, decode: bool = False) -> int: ...
    def accept_float32(self, samples: Buffer, sample_rate: int) -> None: ...
    def accept_silence(self, n_samples: int, sample_rate: int) -> None: ...
    def input_finished(self) -> None: ...
    def is_ready(self) -> bool: ...
    def decode(self) -> int: ...
    def is_endpoint(self) -> bool: ...
    def reset(self) -> None: ...
    @property
    def text(self) -> str: ...
    def set_option(self, key: str, value: str) -> None: ...
    def close(self) -> None: ...

@final
class OnlineRecognizer:
    sample_rate: int
    def __init__(
        self,
        *,
        tokens: str,
        encoder: str,
        decoder: str,
        joiner: str,
        sample_rate: int = 16000,
        feature_dim: int = 80,
        num_threads: int = 2,
        provider: str = "cpu",
        decoding_method: str = "greedy_search",
        max_active_paths: int = 4,
        enable_endpoint: bool = True,
        rule1_min_trailing_silence: float = 2.4,
        rule2_min_trailing_silence: float = 1.2,
        rule3_min_utterance_length: float = 20.0,
        model_type: str = "",
        debug: bool = False,
    ) -> None: ...
    def create_stream(self) -> OnlineStream: ...
    def decode_streams(self, streams: Iterable[OnlineStream]) -> int: ...

@final
class OfflineStream:
    def __new__(cls, recognizer: OfflineRecognizer) -> OfflineStream: ...
    def accept_pcm16(self, data: Buffer, sample_rate: int) -> None: ...
    def accept_float32(self, samples: Buffer, sample_rate: int) -> None: ...
    @property
    def text(self) -> str: ...
    def close(self) -> None: ...

@final
class OfflineRecognizer:
    kind: str
    def __init__(
        self,
        *,
        kind: str,
        tokens: str,
        encoder: str,
        decoder: str,
        joiner: str = "",
        language: str = "en",
        task: str = "transcribe",
        sample_rate: int = 16000,
        feature_dim: int = 80,
        num_threads: int = 2,
        provider: str = "cpu",
        model_type: str = "",
        decoding_method: str = "greedy_search",
        tail_paddings: int = -1,
        debug: bool = False,
    ) -> None: ...
    def create_stream(self) -> OfflineStream: ...
    def transcribe_pcm16(self, data: Buffer, sample_rate: int) -> str: ...
    def decode_streams(self, streams: Iterable[OfflineStream]) -> None: ...

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
