"""Small pure-Python/numpy twins of the native modules, used as test oracles."""
