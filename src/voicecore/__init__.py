"""voicecore: RoomKit's voice provider layer with a native (Cython) media path."""

__version__ = "0.1.0"
