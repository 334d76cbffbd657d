"""A callback that raises inside the engine's drain must not stop the engine.

Regression: ``Engine.drain`` re-arms the loop's wake-up only when it finishes;
an exception from a frame sink left it unarmed, so no frame, event or session
removal ever reached the loop again (every session of the engine stalled and
``disconnect`` timed out)."""

from __future__ import annotations

import asyncio
import sys

import pytest

from engine_support import RawPeer, rtp

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine needs Linux")


async def test_raising_audio_callback_does_not_stall_the_engine():
    from voicecore.backends.rtp import RTPVoiceBackend

    peer = RawPeer()
    b = RTPVoiceBackend(local_addr=("127.0.0.1", 0), remote_addr=peer.addr, inactivity_timeout=0)
    n = [0]

    def cb(session, frame):
        n[0] += 1
        if n[0] == 5:
            raise RuntimeError("a bug in the application's callback")

    b.on_audio_received(cb)
    s = await b.connect("room", "user", "voice")
    try:
        for i in range(40):
            peer.send(rtp(i, i * 160, 1234, b"\xff" * 160), s.metadata["local_addr"])
            await asyncio.sleep(0.02)
        await asyncio.sleep(0.3)
        assert n[0] >= 30, n[0]                  # frames kept coming after the exception
        assert b.engine.stats()["loop_errors"] == 1
    finally:
        await asyncio.wait_for(b.close(), 5)     # the session is released (not stuck)
        peer.close()
