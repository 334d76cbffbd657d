"""voicecore.testing.netsim refuses impossible network settings at its API
(naming the function and the argument) instead of simulating nonsense."""

from __future__ import annotations

import pytest

from voicecore.testing import netsim


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss": 2.0}, r"^netsim\.deliver\(loss=2\.0\): must be between 0 and 1 \(a probability\)$"),
        ({"loss": -0.1}, r"^netsim\.deliver\(loss=-0\.1\): must be between 0 and 1"),
        ({"loss": float("nan")}, r"^netsim\.deliver\(loss=nan\): must be between 0 and 1"),
        ({"reorder": 1.5}, r"^netsim\.deliver\(reorder=1\.5\)"),
        ({"duplicate": -1}, r"^netsim\.deliver\(duplicate=-1\)"),
        ({"jitter_ms": -5.0}, r"^netsim\.deliver\(jitter_ms=-5\.0\): must be >= 0 ms$"),
        ({"base_delay_ms": -1}, r"^netsim\.deliver\(base_delay_ms=-1\): must be >= 0 ms$"),
        ({"gilbert": (1.0, 3.0)}, r"gilbert\[0\] \(loss rate\)=1\.0\): must be between 0 and 0\.999"),
        ({"gilbert": (0.1, 0.5)}, r"gilbert\[1\] \(mean burst, packets\)=0\.5\): must be >= 1"),
    ],
)  # fmt: skip
def test_deliver_refuses_impossible_settings(kwargs, message):
    with pytest.raises(ValueError, match=message):
        netsim.deliver([], **kwargs)


def test_wrong_types_and_other_functions():
    with pytest.raises(TypeError, match=r"^netsim\.deliver\(loss=\.\.\.\) must be a number, got str$"):
        netsim.deliver([], loss="0.1")
    with pytest.raises(ValueError, match=r"^netsim\.Sender\(ptime_ms=0\): must be >= 1 ms$"):
        netsim.Sender(ptime_ms=0)
    with pytest.raises(ValueError, match=r"^netsim\.run\(frame_ms=0\): must be >= 1 ms$"):
        netsim.run(None, [], start_ns=0, duration_ms=100, frame_ms=0)


def test_edges_are_accepted():
    sender = netsim.Sender()
    sender.talk(200)
    assert netsim.deliver(sender.packets, loss=1.0) == []
    assert len(netsim.deliver(sender.packets, loss=0.0, jitter_ms=0.0)) == 10
