"""Placeholder: voicecore._native.pcm is being built."""
