# What the recognition (sherpa.pyx) and synthesis (sherpa_tts.pyx) modules
# take from the loader: the one function table of the loaded sherpa-onnx C API
# (loading it if needed; ImportError when it cannot be loaded).
from voicecore._native.providers._sherpa_capi cimport vc_sherpa_api

cdef const vc_sherpa_api* sherpa_api() except NULL
