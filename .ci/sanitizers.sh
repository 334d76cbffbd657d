#!/usr/bin/env bash
# CI, after the main test run (.ci/run): the native modules built with clang,
# AddressSanitizer + UndefinedBehaviorSanitizer and libFuzzer coverage
# (-Dsanitize=address,undefined -Dfuzzer=true), in their own venv (.venv-asan);
# the test suite under it (the ASan runtime preloaded: CPython is not
# instrumented), then every fuzz target for about a minute (fuzz/README.md).
# Bounded: each part runs under `timeout`. Needs the sdist in .ci-build/dist.
#
#   bash .ci/sanitizers.sh PYTHON3.12 [SECONDS_PER_FUZZ_TARGET]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY312=$1
FUZZ_SECONDS=${2:-60}
t0=$(date +%s)
step() { printf '\n=== [sanitizers %4ss] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }

step "clang and its sanitizer runtimes"
asan_rt() { command -v clang >/dev/null 2>&1 && f=$(clang -print-file-name=libclang_rt.asan-x86_64.so) && [ -f "$f" ] && echo "$f"; }
if ! asan_rt >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-14-dev >/dev/null 2>&1 \
      || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang libclang-rt-dev >/dev/null
  fi
fi
ASAN_RT=$(asan_rt) || { echo "clang with the ASan runtime is needed (apt-get install clang libclang-rt-14-dev)"; exit 1; }
echo "clang: $(clang --version | head -n 1); ASan runtime: $ASAN_RT"

step "instrumented wheel from the sdist (CC=clang -Dsanitize=address,undefined -Dfuzzer=true)"
rm -rf .ci-build/asan && mkdir -p .ci-build/asan
SDIST=$(ls .ci-build/dist/voicecore-*.tar.gz)
[ -x .ci-build/buildenv/bin/python ] || { "$PY312" -m venv .ci-build/buildenv && .ci-build/buildenv/bin/pip install -q build; }
CC=clang timeout 1200 .ci-build/buildenv/bin/python -m build --wheel --outdir .ci-build/asan \
  -Csetup-args=-Dsanitize=address,undefined -Csetup-args=-Dfuzzer=true "$SDIST" 2>&1 | tail -n 2
WHEEL=$(ls .ci-build/asan/voicecore-*-cp312-*.whl)

step "venv .venv-asan: the instrumented wheel, the test extras, atheris"
rm -rf .venv-asan
"$PY312" -m venv .venv-asan
.venv-asan/bin/pip install -q "${WHEEL}[test,bench,sherpa-onnx]" pytest-timeout atheris

step "the native tests under ASan + UBSan"
# The test files that drive native code (codecs, rings, resampler, jitter
# buffer, the engine and its backend, the fuzz regressions); the whole suite
# also passes under this build (fuzz/README.md says how to run it: about 17
# minutes here, too long for CI). detect_leaks=0: CPython keeps its
# allocations until exit. UBSan findings abort (-fno-sanitize-recover). Left
# to the main run: valgrind (cannot run under ASan), RSS bounds (ASan keeps
# freed memory in its quarantine: +100 MB), and timing bounds (pacing within
# 2 ms, a DTMF consumer keeping up with a producer pausing 3 us) that
# instrumented code on two shared cores does not meet. test_resample.py and
# test_jitter_props.py (long hypothesis runs, 1-2 min instrumented) are left to
# the fuzz targets of the same code, to keep CI under 30 minutes.
NATIVE_TESTS=(
  tests/test_g711.py tests/test_pcm.py tests/test_codecs_native.py tests/test_g722.py tests/test_opus.py
  tests/test_srtp.py tests/test_resample_seam.py tests/test_ring.py tests/test_ring_aec.py
  tests/test_ring_playback.py tests/test_ring_queue.py tests/test_ring_seam.py tests/test_ring_threads.py
  tests/test_jitter.py tests/test_jitter_api.py tests/test_jitter_codecs.py tests/test_jitter_network.py
  tests/test_jitter_probe.py tests/test_jitter_review.py tests/test_jitter_rtcp.py
  tests/test_jitter_streams.py tests/test_native_probes.py tests/test_engine_callback_errors.py
  tests/test_engine_rtcp.py tests/test_rtp_backend.py tests/test_rtp_backend_api.py tests/test_rtp_reliability.py
  tests/test_rtp_interop.py tests/test_fuzz_regressions.py tests/test_sherpa_threads.py
)
# A finding aborts the process; pytest may be capturing its stderr then (at
# collection), so the reports also go to files, printed when the run fails.
SAN_LOGS=$ROOT/.ci-build/san-logs
rm -rf "$SAN_LOGS" && mkdir -p "$SAN_LOGS"
san_failed() { echo "sanitizer reports:"; cat "$SAN_LOGS"/* 2>/dev/null || echo "(none written)"; exit 1; }
(
  export LD_PRELOAD="$ASAN_RT"
  export ASAN_OPTIONS=detect_leaks=0:allocator_may_return_null=1:detect_stack_use_after_return=0:log_path=$SAN_LOGS/asan
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1:log_path=$SAN_LOGS/ubsan
  export VOICECORE_SANITIZED=1
  timeout 900 .venv-asan/bin/python -m pytest "${NATIVE_TESTS[@]}" -p no:cacheprovider --timeout=600 -q \
    --deselect tests/test_jitter_review.py::test_concealment_memory_under_valgrind \
    --deselect tests/test_rtp_reliability.py::test_flood_of_random_datagrams_leaves_the_call_intact \
    --deselect tests/test_rtp_reliability.py::test_connect_disconnect_churn_leaks_nothing \
    --deselect tests/test_rtp_reliability.py::test_pacing_holds_while_the_event_loop_is_blocked \
    --deselect tests/test_jitter_probe.py::test_dtmf_native_producer_python_consumer
) || san_failed

step "fuzz targets, ${FUZZ_SECONDS} s each (new corpus entries and crashes in .ci-build/fuzz)"
export FUZZ_WORK=$ROOT/.ci-build/fuzz
export PATH=$ROOT/.venv-asan/bin:$PATH       # libFuzzer re-executes the target script (python3)
export VOICECORE_FUZZ_CLOCK=engine           # times as the engine gives them (see fuzz/README.md)
rm -rf "$FUZZ_WORK"
failed=""
fuzz_one() {
  local t=$1
  if timeout $(( FUZZ_SECONDS + 120 )) fuzz/run.sh "$ROOT/.venv-asan/bin/python" "$t" \
       -max_total_time="$FUZZ_SECONDS" -timeout=30 > "$FUZZ_WORK-$t.log" 2>&1; then
    echo "$t: $(grep -E '^#[0-9]+[[:space:]]+DONE' "$FUZZ_WORK-$t.log" | tail -n 1)"
  else
    echo "$t: FAILED"; tail -n 60 "$FUZZ_WORK-$t.log"; return 1
  fi
}
# two targets at a time (the machine has two cores): about 4 minutes in all
set -- rtp_jitter rtp_events rtcp g711_pcm resample rings engine
while [ $# -gt 0 ]; do
  a=$1; shift; b=${1:-}; [ $# -gt 0 ] && shift
  fuzz_one "$a" > "$FUZZ_WORK-$a.out" 2>&1 & pa=$!
  if [ -n "$b" ]; then fuzz_one "$b" > "$FUZZ_WORK-$b.out" 2>&1 & pb=$!; fi
  wait $pa || failed="$failed $a"
  if [ -n "$b" ]; then wait $pb || failed="$failed $b"; fi
  cat "$FUZZ_WORK-$a.out"; [ -n "$b" ] && cat "$FUZZ_WORK-$b.out"
done
[ -z "$failed" ] || { echo "fuzz targets that found something:$failed (inputs in $FUZZ_WORK/artifacts)"; exit 1; }
step "done"
