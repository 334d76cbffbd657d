"""Public path of :mod:`voicecore.media.codec` (the media layer); see that module."""

from voicecore.media.codec import *  # noqa: F403
from voicecore.media.codec import __all__  # noqa: F401
