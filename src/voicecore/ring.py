"""Public path of :mod:`voicecore.media.ring` (the media layer); see that module."""

from voicecore.media.ring import *  # noqa: F403
from voicecore.media.ring import __all__  # noqa: F401
