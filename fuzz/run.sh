#!/usr/bin/env bash
# Run one fuzz target under atheris with the ASan+UBSan runtime preloaded.
#
#   fuzz/run.sh PYTHON TARGET [libFuzzer options...]
#   fuzz/run.sh /path/venv/bin/python rtp_jitter -max_total_time=60
#
# PYTHON: the interpreter of a venv where voicecore was installed by
# fuzz/build.sh (instrumented: -Dsanitize=address,undefined -Dfuzzer=true)
# and atheris is installed. New corpus entries go to $FUZZ_WORK/corpus/TARGET
# (default fuzz/.work), crashes to $FUZZ_WORK/artifacts/; the committed seeds
# in fuzz/corpus/TARGET are read, never written.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PY=$1; TARGET=$2; shift 2
WORK=${FUZZ_WORK:-$HERE/.work}
mkdir -p "$WORK/corpus/$TARGET" "$WORK/artifacts"
ATHERIS=$("$PY" -c 'import atheris; print(atheris.path())')
export LD_PRELOAD="$ATHERIS/asan_with_fuzzer.so"
# CPython is not instrumented and keeps its own allocations until exit: no leak
# check. UBSan findings abort (the build uses -fno-sanitize-recover=undefined).
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:allocator_may_return_null=1:handle_abort=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
cd "$WORK"
exec "$PY" "$HERE/fuzz_$TARGET.py" "$WORK/corpus/$TARGET" "$HERE/corpus/$TARGET" \
  -artifact_prefix="$WORK/artifacts/$TARGET-" -print_final_stats=1 "$@"
