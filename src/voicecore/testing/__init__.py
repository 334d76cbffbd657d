"""Test and benchmark helpers shipped with voicecore (deterministic network simulation)."""
