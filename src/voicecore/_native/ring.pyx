"""Placeholder: voicecore._native.ring is being built."""
