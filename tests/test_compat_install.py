"""``voicecore.install()`` / ``uninstall()``: what they switch, that they are
idempotent, that nothing is switched on import, and the version errors."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings

import pytest

import voicecore
from voicecore import compat

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the engine is Linux-only")

aiortp = pytest.importorskip("aiortp")
import aiortp.session  # noqa: E402


@pytest.fixture
def clean():
    """Every test leaves the process uninstalled."""
    voicecore.uninstall()
    yield
    voicecore.uninstall()


def test_import_switches_nothing():
    code = (
        "import aiortp, aiortp.session; orig = aiortp.RTPSession\n"
        "import voicecore, voicecore.compat, voicecore.compat.aiortp\n"
        "import importlib.util as u\n"
        "if u.find_spec('aiosipua'): import voicecore.compat.aiosipua\n"
        "if u.find_spec('roomkit') and u.find_spec('aiosipua'):\n"
        "    import voicecore.compat.roomkit\n"
        "    import roomkit.voice.backends.rtp as r, roomkit.voice.backends.sip as s\n"
        "    assert r.RTPVoiceBackend.__module__ == 'roomkit.voice.backends.rtp', r.RTPVoiceBackend\n"
        "    assert s.SIPVoiceBackend.send_audio.__module__.startswith('roomkit')\n"
        "assert aiortp.RTPSession is orig and orig.__module__ == 'aiortp.session'\n"
        "assert not voicecore.compat.installed()\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                         env={**os.environ, "PYTHONWARNINGS": "ignore"})
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_install_switches_aiortp_and_is_idempotent(clean):
    from voicecore.compat.aiortp import RTPSession

    orig = aiortp.RTPSession
    voicecore.install()
    assert compat.installed()
    assert aiortp.RTPSession is RTPSession and aiortp.session.RTPSession is RTPSession
    voicecore.install()                             # second call: no change, no double record
    assert aiortp.RTPSession is RTPSession
    voicecore.uninstall()
    assert aiortp.RTPSession is orig and aiortp.session.RTPSession is orig
    assert not compat.installed()
    voicecore.uninstall()                           # idempotent
    assert aiortp.RTPSession is orig


def test_aiosipua_sees_voicecores_rtpsession(clean):
    pytest.importorskip("aiosipua")
    from aiosipua import rtp_bridge

    from voicecore.compat.aiortp import RTPSession

    voicecore.install()
    assert rtp_bridge._import_aiortp().RTPSession is RTPSession


def test_install_switches_roomkit_rtp_backend_and_its_lazy_exports(clean):
    pytest.importorskip("roomkit")
    import roomkit.voice
    import roomkit.voice.backends as backends
    import roomkit.voice.backends.rtp as rk_rtp

    from voicecore.backends.rtp import RTPVoiceBackend

    orig = rk_rtp.RTPVoiceBackend
    voicecore.install()
    assert rk_rtp.RTPVoiceBackend is RTPVoiceBackend
    assert backends.RTPVoiceBackend is RTPVoiceBackend                 # PEP 562 lazy export
    from roomkit.voice.backends import RTPVoiceBackend as via_from    # noqa: N811
    assert via_from is RTPVoiceBackend
    assert roomkit.voice.get_rtp_backend() is RTPVoiceBackend
    voicecore.uninstall()
    assert rk_rtp.RTPVoiceBackend is orig and backends.RTPVoiceBackend is orig
    assert roomkit.voice.get_rtp_backend() is orig


def test_lazy_export_bound_in_the_package_is_switched_too(clean):
    pytest.importorskip("roomkit")
    import roomkit.voice.backends as backends
    import roomkit.voice.backends.rtp as rk_rtp

    from voicecore.backends.rtp import RTPVoiceBackend

    orig = rk_rtp.RTPVoiceBackend
    backends.RTPVoiceBackend = orig                 # an application cached the export
    try:
        voicecore.install()
        assert vars(backends)["RTPVoiceBackend"] is RTPVoiceBackend
        voicecore.uninstall()
        assert vars(backends)["RTPVoiceBackend"] is orig
    finally:
        vars(backends).pop("RTPVoiceBackend", None)


def test_sip_backend_gets_the_native_bridge_only_when_created_after_install(clean):
    pytest.importorskip("roomkit")
    pytest.importorskip("aiosipua")
    from aiosipua import rtp_bridge
    from roomkit.voice.backends.sip import SIPVoiceBackend

    from voicecore.compat.roomkit import SIPBridge

    before = SIPVoiceBackend(local_sip_addr=("127.0.0.1", 0))
    originals = {n: getattr(SIPVoiceBackend, n) for n in ("__init__", "send_audio", "is_playing",
                                                          "_expiry_reason", "_make_audio_handler")}
    voicecore.install()
    after = SIPVoiceBackend(local_sip_addr=("127.0.0.1", 0), rtp_inactivity_timeout=7,
                            rtp_establishment_timeout=9)
    assert before._rtp_bridge is rtp_bridge
    assert isinstance(after._rtp_bridge, SIPBridge)
    assert SIPVoiceBackend.send_audio.__module__ == "voicecore.compat.roomkit"
    voicecore.uninstall()
    assert {n: getattr(SIPVoiceBackend, n) for n in originals} == originals
    assert "send_audio" not in vars(SIPVoiceBackend)      # inherited again from roomkit's mixin
    assert SIPVoiceBackend(local_sip_addr=("127.0.0.1", 0))._rtp_bridge is rtp_bridge


def test_subclass_of_sip_backend_reaches_the_native_methods(clean):
    pytest.importorskip("roomkit")
    pytest.importorskip("aiosipua")
    from roomkit.voice.backends.sip import SIPVoiceBackend

    from voicecore.compat.roomkit import SIPBridge

    class MySIP(SIPVoiceBackend):
        def __init__(self, **kw):
            super().__init__(**kw)
            self.mine = True

    voicecore.install()
    b = MySIP(local_sip_addr=("127.0.0.1", 0))
    assert b.mine and isinstance(b._rtp_bridge, SIPBridge)


def test_unsupported_version_names_package_version_and_range(clean, monkeypatch):
    orig = aiortp.RTPSession
    monkeypatch.setattr(compat, "_installed_versions", lambda: {"aiortp": "0.8.0", "roomkit": "0.120.3"})
    with pytest.raises(compat.UnsupportedVersionError) as err:
        voicecore.install()
    msg = str(err.value)
    assert "roomkit 0.120.3" in msg and ">=0.109.0,<0.110" in msg and "voicecore" in msg
    assert "aiortp" not in msg                                      # aiortp 0.8.0 is fine
    assert aiortp.RTPSession is orig and not compat.installed()      # nothing half-applied


def test_several_unsupported_versions_are_all_named(clean, monkeypatch):
    monkeypatch.setattr(compat, "_installed_versions", lambda: {"aiortp": "0.7.9", "aiosipua": "0.8.0"})
    with pytest.raises(compat.UnsupportedVersionError, match=r"aiortp 0\.7\.9 .*aiosipua 0\.8\.0"):
        voicecore.install()


def test_allow_untested_warns_and_installs(clean, monkeypatch):
    monkeypatch.setattr(compat, "_installed_versions", lambda: {"aiortp": "0.9.1"})
    with pytest.warns(RuntimeWarning, match=r"aiortp 0\.9\.1 \(supported: >=0\.8\.0,<0\.9\)"):
        voicecore.install(allow_untested=True)
    from voicecore.compat.aiortp import RTPSession

    assert aiortp.RTPSession is RTPSession


def test_missing_seam_is_an_unsupported_version_error(clean, monkeypatch):
    monkeypatch.setattr(compat, "_installed_versions", lambda: {"aiortp": "0.8.0"})
    monkeypatch.delattr(aiortp, "RTPSession")
    with pytest.raises(compat.UnsupportedVersionError, match="seam .* missing"):
        voicecore.install()


def test_nothing_installed_is_an_import_error(clean, monkeypatch):
    monkeypatch.setattr(compat, "_installed_versions", lambda: {})
    with pytest.raises(ImportError, match="none of roomkit, aiosipua, aiortp"):
        voicecore.install()


def test_installed_versions_are_supported_here():
    """The versions this environment runs the tests with are the supported ones
    (otherwise the SIP tests would be testing an unsupported combination)."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        compat._check_versions(compat._installed_versions(), allow_untested=False)


@pytest.mark.parametrize("text, release", [
    ("0.109.0", (0, 109, 0)), ("0.8.0rc1", (0, 8, 0)), ("1.2", (1, 2)), ("0.7.1+local", (0, 7, 1)),
    ("2.0.0.post3", (2, 0, 0)),
])
def test_release_parsing(text, release):
    assert compat._release(text) == release
