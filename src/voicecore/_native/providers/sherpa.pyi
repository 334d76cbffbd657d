"""Type stub of voicecore._native.providers.sherpa (sherpa-onnx C API binding:
loading, speech recognition)."""

from collections.abc import Iterable
from typing import final

from typing_extensions import Buffer, disjoint_base

from voicecore._native.providers._sherpa_lib import (
    SUPPORTED_SERIES as SUPPORTED_SERIES,
    check_files as check_files,
    is_loaded as is_loaded,
    library_path as library_path,
    load as load,
    version as version,
)

__all__ = [
    "SUPPORTED_SERIES", "OfflineRecognizer", "OfflineStream", "OnlineRecognizer", "OnlineStream",
    "is_loaded", "library_path", "load", "version",
]

@disjoint_base
class _Stream:
    def accept_float32(self, samples: Buffer, sample_rate: int) -> None: ...
    @property
    def text(self) -> str: ...
    def close(self) -> None: ...

@final
class OnlineStream(_Stream):
    def __new__(cls, recognizer: OnlineRecognizer) -> OnlineStream: ...
    @property
    def stream_sample_rate(self) -> int: ...
    def accept_pcm16(self, data: Buffer, sample_rate: int, decode: bool = False) -> int: ...
    def accept_silence(self, n_samples: int, sample_rate: int) -> None: ...
    def input_finished(self) -> None: ...
    def is_ready(self) -> bool: ...
    def decode(self) -> int: ...
    def is_endpoint(self) -> bool: ...
    def reset(self) -> None: ...
    def set_option(self, key: str, value: str) -> None: ...

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
class OfflineStream(_Stream):
    def __new__(cls, recognizer: OfflineRecognizer) -> OfflineStream: ...
    def accept_pcm16(self, data: Buffer, sample_rate: int) -> None: ...

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
