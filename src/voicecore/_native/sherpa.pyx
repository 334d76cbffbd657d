"""Placeholder: voicecore._native.sherpa is being built."""
