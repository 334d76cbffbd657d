"""The README's API example runs as written, and its two commands are the ones
this repository actually provides."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"


def _text() -> str:
    if not README.exists():
        pytest.skip("README.md not next to the tests")
    return README.read_text()


def test_python_example_runs(capsys):
    blocks = re.findall(r"```python\n(.*?)```", _text(), flags=re.S)
    assert blocks, "README has no python example"
    exec(compile(blocks[0], "README.md", "exec"), {})
    assert capsys.readouterr().out.strip() == "-60.0"


def test_two_commands_come_first():
    text = _text()
    shell = re.findall(r"```sh\n(.*?)```", text, flags=re.S)
    assert "python -m voicecore demo" in shell[0]
    assert shell[1].strip() == "bash .ci/run"
    assert (README.parent / ".ci" / "run").exists()


def test_first_command_uses_commands_that_exist():
    """Every ``python -m voicecore...`` step of the README's first command is a
    command this version has (checked with --help: nothing is downloaded)."""
    first = re.findall(r"```sh\n(.*?)```", _text(), flags=re.S)[0]
    steps = re.findall(r"python -m (voicecore[\w.]*)((?: [\w-]+)*)", first)
    assert [m for m, _ in steps] == ["voicecore.models", "voicecore"]
    for module, args in steps:
        res = subprocess.run([sys.executable, "-m", module, *args.split(), "--help"],
                             capture_output=True, text=True, timeout=60)  # fmt: skip
        assert res.returncode == 0, (module, args, res.stderr)
        words = args.split()
        assert res.stdout.startswith(f"usage: {Path(sys.executable).name} -m {module} {words[0]}")
        if words[0] == "fetch":  # the model it names exists
            from voicecore import models

            assert set(words[1:]) <= set(models.MODELS)
