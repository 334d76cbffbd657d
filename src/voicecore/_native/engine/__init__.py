"""The audio I/O engine (Linux): ``engine`` (the Python face), ``io`` (the
thread), ``tick`` (one session's work per tick), ``rtcp`` (RTCP build/parse).
Shared state is declared in ``core.pxd``."""
