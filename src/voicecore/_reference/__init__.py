"""Small numpy reference implementations: test oracles, and the implementation used when VOICECORE_NO_EXTENSIONS=1."""
