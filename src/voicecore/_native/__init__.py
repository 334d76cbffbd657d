"""voicecore's native (Cython) extension modules, one per component.

Import them through ``voicecore._impl.load(name)``, which honours
``VOICECORE_NO_EXTENSIONS=1`` (numpy reference implementations) and turns a
missing extension into a clear ImportError instead of a silent slowdown.
"""
