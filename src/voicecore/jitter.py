"""Public path of :mod:`voicecore.media.jitter` (the media layer); see that module."""

from voicecore.media.jitter import *  # noqa: F403
from voicecore.media.jitter import __all__  # noqa: F401
