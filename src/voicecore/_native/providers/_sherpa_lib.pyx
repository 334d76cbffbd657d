# cython: freethreading_compatible=True
"""Loading the sherpa-onnx C API (``libsherpa-onnx-c-api`` of the installed
``sherpa_onnx`` package, dlopen'ed at run time; see ``sherpa_capi.h``). This
module owns the one function table; ``sherpa`` (recognition) and
``sherpa_tts`` (synthesis) take it through ``sherpa_api()`` (``_sherpa_lib.pxd``).
Public names are re-exported by ``voicecore._native.providers.sherpa``.
"""
from voicecore._native.providers._sherpa_capi cimport vc_sherpa, vc_sherpa_api, vc_sherpa_load

import importlib.util
import os
import sys
import threading

__all__ = ["SUPPORTED_SERIES", "check_files", "is_loaded", "library_path", "load", "version"]

#: sherpa-onnx release series whose C structs sherpa_capi.h declares.
SUPPORTED_SERIES = "2.0"


_load_lock = threading.Lock()
_version = None


def library_path():
    """Path of ``libsherpa-onnx-c-api`` in the installed ``sherpa_onnx`` package
    (``$VOICECORE_SHERPA_ONNX_LIB`` overrides it). Raises ImportError when
    sherpa-onnx is not installed."""
    env = os.environ.get("VOICECORE_SHERPA_ONNX_LIB", "").strip()
    if env:
        return env
    spec = importlib.util.find_spec("sherpa_onnx")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(
            "sherpa-onnx is not installed; the sherpa-onnx speech providers need it: "
            "pip install 'voicecore[sherpa-onnx]' (sherpa-onnx >= 2.0, < 2.1)"
        )
    base = os.path.join(list(spec.submodule_search_locations)[0], "lib")
    if sys.platform == "darwin":
        names = ["libsherpa-onnx-c-api.dylib"]
    elif sys.platform == "win32":
        names = ["sherpa-onnx-c-api.dll"]
    else:
        names = ["libsherpa-onnx-c-api.so"]
    for name in names:
        p = os.path.join(base, name)
        if os.path.exists(p):
            return p
    raise ImportError(
        f"the installed sherpa-onnx has no C API library ({names[0]} not in {base}); "
        "install the sherpa-onnx-core wheel (pip install 'sherpa-onnx>=2.0,<2.1')"
    )


def _check_version(v):
    parts = v.split(".")
    if ".".join(parts[:2]) != SUPPORTED_SERIES:
        raise ImportError(
            f"sherpa-onnx {v} is installed, but voicecore's C API binding supports the "
            f"{SUPPORTED_SERIES}.x series only (its struct layouts change between series): "
            f"pip install 'sherpa-onnx>={SUPPORTED_SERIES},<{parts[0]}.{int(SUPPORTED_SERIES.split('.')[1]) + 1}'"
            if parts and parts[0].isdigit() else
            f"sherpa-onnx reports an unreadable version {v!r}; voicecore supports {SUPPORTED_SERIES}.x"
        )


def load(path=None):
    """Load the sherpa-onnx C API (once per process) and return its version.

    ``path``: the library to load (default :func:`library_path`). Raises
    ImportError when sherpa-onnx is missing, its library cannot be loaded or its
    version is not of :data:`SUPPORTED_SERIES`.
    """
    global _version
    cdef char err[1024]
    cdef bytes bpath
    with _load_lock:
        if _version is not None:
            return _version
        p = library_path() if path is None else os.fspath(path)
        bpath = os.fsencode(p)
        err[0] = 0
        if vc_sherpa_load(bpath, err, sizeof(err)) != 0:
            raise ImportError(f"cannot load the sherpa-onnx C API: {(<bytes>err).decode('utf-8', 'replace')}")
        v = (<bytes>vc_sherpa.GetVersionStr()).decode("ascii", "replace")
        _check_version(v)
        _version = v
        return v


def is_loaded():
    """True once :func:`load` succeeded."""
    return _version is not None


def version():
    """Version of the loaded sherpa-onnx C API (loads it if needed)."""
    return load()


cdef const vc_sherpa_api* sherpa_api() except NULL:
    """The loaded C API's function table (loads the library if needed)."""
    if _version is None:
        load()
    return &vc_sherpa


def check_files(str cls, **paths):
    """FileNotFoundError/ValueError naming ``cls`` and the field of a missing path."""
    for field, p in paths.items():
        if not p:
            raise ValueError(f"{cls}: {field}: a model file path is required")
        if not os.path.isfile(p):
            raise FileNotFoundError(f"{cls}: {field}: no such file: {os.fspath(p)!r}")
