"""The native/reference switch: VOICECORE_NO_EXTENSIONS=1 selects the numpy
twins on purpose; a missing extension without it is a clear ImportError."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap


def _run(code: str, **env: str) -> subprocess.CompletedProcess[str]:
    e = {k: v for k, v in os.environ.items() if k != "VOICECORE_NO_EXTENSIONS"}
    e.update(env)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, env=e, timeout=60)


def test_default_uses_native_modules():
    r = _run("import voicecore.media.codec as c, voicecore.media.pcm as p; print(c._g711.__name__, p._pcm.__name__)")
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["voicecore._native.media.g711", "voicecore._native.media.pcm"]


def test_no_extensions_selects_reference():
    r = _run(
        "import voicecore.media.codec as c, voicecore.media.pcm as p; print(c._g711.__name__, p._pcm.__name__); "
        "print(c.ulaw2lin(c.lin2ulaw(b'\\x00\\x10' * 4)).hex())",
        VOICECORE_NO_EXTENSIONS="1",
    )
    assert r.returncode == 0, r.stderr
    names, data = r.stdout.split("\n")[:2]
    assert names.split() == ["voicecore._reference.g711", "voicecore._reference.pcm"]
    assert data == "fc0f" * 4  # 4096 quantizes to 4092 in mu-law, as in audioop


def test_missing_extension_is_a_clear_import_error():
    code = """
    import sys
    class Block:
        def find_spec(self, name, path=None, target=None):
            if name == "voicecore._native.media.g711":
                raise ImportError("simulated: extension not built")
            return None
    sys.meta_path.insert(0, Block())
    try:
        import voicecore.codec
    except ImportError as exc:
        print("IMPORTERROR", exc)
    else:
        print("NO ERROR", voicecore.media.codec._g711.__name__)
    """
    r = _run(code)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("IMPORTERROR")
    assert "voicecore._native.media.g711" in r.stdout and "VOICECORE_NO_EXTENSIONS=1" in r.stdout


def test_jitter_refuses_no_extensions_mode_instead_of_using_native():
    r = _run(
        "try:\n    import voicecore.jitter\nexcept ImportError as e:\n    print('IMPORTERROR', e)\nelse:\n    print('LOADED')",
        VOICECORE_NO_EXTENSIONS="1",
    )
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("IMPORTERROR") and "no reference" in r.stdout
