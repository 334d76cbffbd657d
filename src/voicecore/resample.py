"""Public path of :mod:`voicecore.media.resample` (the media layer); see that module."""

from voicecore.media.resample import *  # noqa: F403
from voicecore.media.resample import __all__  # noqa: F401
