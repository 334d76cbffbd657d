"""``python -m voicecore``: the same program as the ``voicecore`` console
script (see :mod:`voicecore.cli`)."""

from __future__ import annotations

import sys

from voicecore.cli import main

if __name__ == "__main__":
    sys.exit(main())
