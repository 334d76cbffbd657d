"""The README's API example runs as written, and its two commands are the ones
this repository actually provides."""

from __future__ import annotations

import re
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
