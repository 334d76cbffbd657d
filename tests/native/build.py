"""Build the test-only Cython modules in this folder against the *installed*
voicecore package, so a .pxd that does not declare what another native
module needs fails the suite. Never shipped: the wheel has no test modules.

Usage (from a test): ``probe = build_probe("probe_ring")`` returns the
imported module. Each probe is compiled once per test session into a private
temporary directory (Cython + setuptools from the ``test`` extra), with the
installed voicecore's folders on the Cython include path and its C headers
on the compiler's.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import os
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from types import ModuleType

HERE = Path(__file__).resolve().parent
_BUILD_ROOT = Path(tempfile.mkdtemp(prefix="voicecore-probes-"))

_SETUP = r"""
import sys
from setuptools import Extension, setup
from Cython.Build import cythonize

name, pyx, site, *incs = sys.argv[1:]
sys.argv = [sys.argv[0], "build_ext", "--inplace", "-q"]
ext = Extension(name, [pyx], include_dirs=incs, extra_compile_args=["-O2", "-Wno-unused-function"],
                libraries=["pthread"])
setup(name=name, ext_modules=cythonize([ext], include_path=[site], quiet=True,
      compiler_directives={"language_level": 3, "boundscheck": False, "wraparound": False}))
"""


def _installed_voicecore() -> Path:
    spec = importlib.util.find_spec("voicecore._native")
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError("voicecore._native is not installed")
    return Path(next(iter(spec.submodule_search_locations))).resolve()


def _source_dirs(native: Path) -> list[Path]:
    """Folders holding voicecore's .pxd files and C headers. An installed
    wheel has them all under voicecore/_native; an editable install serves
    the modules from its build folder and the .pxd files from src/."""
    dirs = [native]
    src = native.parents[2] / "src" / "voicecore" / "_native"   # editable: build/cpXY/src/... -> tree
    for cand in (native, src):
        if cand.is_dir():
            dirs += [cand] + [p for p in cand.iterdir() if p.is_dir() and not p.name.startswith("__")]
    tree = Path(__file__).resolve().parents[2] / "src" / "voicecore" / "_native"
    if not any(native.glob("media/*.pxd")) and tree.is_dir():
        dirs += [tree] + [p for p in tree.iterdir() if p.is_dir() and not p.name.startswith("__")]
    return list(dict.fromkeys(d for d in dirs if d.is_dir()))


def _cython_root(dirs: list[Path]) -> Path:
    """The folder that contains the ``voicecore`` package with the .pxd files."""
    for d in dirs:
        if any(d.glob("*.pxd")) or any(d.glob("media/*.pxd")):
            # d is .../voicecore/_native or a subfolder of it
            p = d
            while p.name != "voicecore":
                p = p.parent
            return p.parent
    raise FileNotFoundError("no installed voicecore .pxd files found")


@functools.cache
def build_probe(name: str) -> ModuleType:
    """Compile ``tests/native/<name>.pyx`` and import it (cached per session)."""
    pyx = HERE / f"{name}.pyx"
    native = _installed_voicecore()
    dirs = _source_dirs(native)
    root = _cython_root(dirs)
    digest = hashlib.sha1(pyx.read_bytes() + str(root).encode()).hexdigest()[:12]
    out = _BUILD_ROOT / f"{name}-{digest}"
    out.mkdir(parents=True, exist_ok=True)
    src = out / pyx.name
    src.write_bytes(pyx.read_bytes())
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-c", _SETUP, name, pyx.name, str(root), *map(str, dirs)],
        cwd=out, capture_output=True, text=True, env=env, timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"building test probe {name} failed:\n{proc.stdout}\n{proc.stderr}")
    suffix = sysconfig.get_config_var("EXT_SUFFIX")
    so = out / f"{name}{suffix}"
    spec = importlib.util.spec_from_file_location(name, so)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
