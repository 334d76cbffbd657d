"""Public path of :mod:`voicecore.media.pcm` (the media layer); see that module."""

from voicecore.media.pcm import *  # noqa: F403
from voicecore.media.pcm import __all__  # noqa: F401
