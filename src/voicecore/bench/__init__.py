"""Capacity measurement tooling used by ``python -m voicecore bench``: a load
generator and receivers for voicecore's per-frame path, its batch API and
roomkit + aiortp (:mod:`voicecore.bench.load`)."""
