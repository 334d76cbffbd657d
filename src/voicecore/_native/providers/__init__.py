"""Native parts of the speech providers: ``sherpa``, a zero-copy binding of
sherpa-onnx's C API (loaded at run time from the installed sherpa-onnx)."""
