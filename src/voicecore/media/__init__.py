"""Media components: the thin Python faces of the native media modules.

One module per component, each over one extension in
``voicecore._native.media`` (or its numpy twin in ``voicecore._reference``
with ``VOICECORE_NO_EXTENSIONS=1``):

- :mod:`voicecore.media.codec`: G.711 mu-law / A-law (bit-exact with audioop).
- :mod:`voicecore.media.pcm`: s16le <-> float32, RMS level.
- :mod:`voicecore.media.resample`: streaming polyphase resampler.
- :mod:`voicecore.media.jitter`: RTP jitter buffer with loss concealment.
- :mod:`voicecore.media.ring`: lock-free rings (samples, AEC reference, frame queue).
- :mod:`voicecore.media.g722`: G.722 wideband codec (16 kHz audio, 8 kHz RTP clock).
- :mod:`voicecore.media.opus`: Opus through libopus (optional at build time), PLC and FEC.
- :mod:`voicecore.media.srtp`: SDES-SRTP: RFC 4568 a=crypto lines, libsrtp2 (optional).

The same modules are importable under their short public paths
(``voicecore.codec``, ``voicecore.pcm``, ``voicecore.resample``,
``voicecore.jitter``, ``voicecore.ring``). Importing this package loads no
native extension.
"""
