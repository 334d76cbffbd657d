"""voicecore: RoomKit's voice provider layer with a native (Cython) media path.

The public names below are drop-in compatible with ``roomkit.voice`` (roomkit
0.109): same names, module paths, signatures and behaviour. Importing
voicecore loads no native extension and no optional dependency, and patches
nothing: ``voicecore.install()`` switches an installed roomkit / aiosipua /
aiortp to the native engine (``voicecore.uninstall()`` undoes it).
"""

from voicecore._lazy import lazy_exports
from voicecore.audio_frame import AudioFrame
from voicecore.backends.base import (
    AudioPlayedCallback,
    AudioReceivedCallback,
    DTMFReceivedCallback,
    PlaybackErrors,
    SessionReadyCallback,
    SpeakerChangeCallback,
    TransportDisconnectCallback,
    VoiceBackend,
)
from voicecore.backends.mock import MockVoiceBackend, MockVoiceCall
from voicecore.compat import install, uninstall
from voicecore.base import (
    AudioChunk,
    AudioContent,
    BargeInCallback,
    PartialTranscriptionCallback,
    SpeakerSegment,
    SpeechEndCallback,
    SpeechStartCallback,
    TranscriptionResult,
    VADAudioLevelCallback,
    VADSilenceCallback,
    VoiceCapability,
    VoiceSession,
    VoiceSessionEndedError,
    VoiceSessionState,
    speaker_label,
)
from voicecore.events import (
    AudioLevelEvent,
    BackchannelEvent,
    BargeInEvent,
    BridgeAudioEvent,
    DTMFDetectedEvent,
    DTMFEvent,
    PartialTranscriptionEvent,
    RecordingStartedEvent,
    RecordingStoppedEvent,
    SpeakerChangeEvent,
    TranscriptionEvent,
    TTSCancelledEvent,
    TurnCompleteEvent,
    TurnIncompleteEvent,
    VADAudioLevelEvent,
    VADSilenceEvent,
)
from voicecore.stt.base import STTProvider
from voicecore.stt.mock import MockSTTProvider
from voicecore.tts.base import TTSProvider
from voicecore.tts.mock import MockTTSProvider

__version__ = "0.1.0"

__all__ = [
    "__version__",
    # roomkit / aiosipua / aiortp on the native engine (uvloop-style)
    "install",
    "uninstall",
    # Base types
    "AudioChunk",
    "AudioContent",
    "AudioFrame",
    "SpeakerSegment",
    "TranscriptionResult",
    "VoiceCapability",
    "VoiceSession",
    "VoiceSessionEndedError",
    "VoiceSessionState",
    "speaker_label",
    # Backends
    "MockVoiceBackend",
    "MockVoiceCall",
    "PlaybackErrors",
    "VoiceBackend",
    # Providers
    "MockSTTProvider",
    "MockTTSProvider",
    "STTProvider",
    "TTSProvider",
    # Events
    "AudioLevelEvent",
    "BackchannelEvent",
    "BargeInEvent",
    "BridgeAudioEvent",
    "DTMFDetectedEvent",
    "DTMFEvent",
    "PartialTranscriptionEvent",
    "RecordingStartedEvent",
    "RecordingStoppedEvent",
    "SpeakerChangeEvent",
    "TTSCancelledEvent",
    "TranscriptionEvent",
    "TurnCompleteEvent",
    "TurnIncompleteEvent",
    "VADAudioLevelEvent",
    "VADSilenceEvent",
    # Callback types
    "AudioPlayedCallback",
    "AudioReceivedCallback",
    "BargeInCallback",
    "DTMFReceivedCallback",
    "PartialTranscriptionCallback",
    "SessionReadyCallback",
    "SpeakerChangeCallback",
    "SpeechEndCallback",
    "SpeechStartCallback",
    "TransportDisconnectCallback",
    "VADAudioLevelCallback",
    "VADSilenceCallback",
]

# Native-backed components, loaded on first use so that ``import voicecore``
# stays light (no extension module is imported until one of these is touched).
_LAZY = {
    "G711Codec": "voicecore.media.codec",
    "Resampler": "voicecore.media.resample",
    "PolyphaseResamplerProvider": "voicecore.media.resample",
    "JitterBuffer": "voicecore.media.jitter",
    "JitterConfig": "voicecore.media.jitter",
    "SampleRing": "voicecore.media.ring",
    "AECReferenceRing": "voicecore.media.ring",
    "FrameQueue": "voicecore.media.ring",
    "PlaybackReference": "voicecore.media.ring",
    "RTPVoiceBackend": "voicecore.backends.rtp",
    "SherpaOnnxSTTConfig": "voicecore.stt.sherpa_onnx",
    "SherpaOnnxSTTProvider": "voicecore.stt.sherpa_onnx",
    "SherpaOnnxTTSConfig": "voicecore.tts.sherpa_onnx",
    "SherpaOnnxTTSProvider": "voicecore.tts.sherpa_onnx",
}
# Not in __all__: ``from voicecore import *`` must not load native modules.
__getattr__, __dir__ = lazy_exports(__name__, _LAZY)
