#!/usr/bin/env bash
# A long fuzz run of one target, counted in CPU time (the issue-13 runs):
#
#   fuzz/long.sh PYTHON TARGET [CPU_SECONDS] [WORKDIR]
#   fuzz/long.sh /tmp/vc-asan/bin/python rtp_jitter 1830 /tmp/fuzz-long
#
# Runs fuzz/run.sh in libFuzzer's fork mode (-ignore_crashes: it keeps going
# after a finding, every crash input is kept in WORKDIR/artifacts/) in chunks of
# at most 15 min, until the CPU time of all the chunk's processes (user + sys,
# from /usr/bin/time, one WORKDIR/TARGET.time.K file per chunk) reaches
# CPU_SECONDS (default 1830: 30.5 CPU-minutes). The engine target waits on its
# sockets and clock most of the time (about a fifth of a core per job), so it
# runs 4 jobs at once. Corpus in WORKDIR/corpus/TARGET (kept between runs), the
# libFuzzer log in WORKDIR/TARGET.log, WORKDIR/TARGET.done at the end; the
# totals: python fuzz/long_summary.py WORKDIR.
#
# Everything runs at nice 19. With the kernel's autogroup scheduling (Debian's
# default) nice only orders processes of one session: started from another
# terminal or with setsid, also lower the session's weight so that a soak or a
# benchmark running beside it keeps its timing:
#   echo 19 > /proc/$$/autogroup
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
PY=$1; T=$2; GOAL=${3:-1830}; D=${4:-$HERE/.work}
mkdir -p "$D"; cd "$D"
export PATH=$(dirname "$PY"):$PATH FUZZ_WORK=$D     # libFuzzer re-executes the target with python3
FORK=1; [ "$T" = engine ] && FORK=4
cpu_used() {
  cat "$T".time.* 2>/dev/null | sed -n 's/^cpu_user=\([0-9.]*\) cpu_sys=\([0-9.]*\).*/\1 \2/p' |
    awk '{s += $1 + $2} END {printf "%d", s}'
}
k=$(ls "$T".time.* 2>/dev/null | wc -l)
while [ "$(cpu_used)" -lt "$GOAL" ]; do
  k=$((k + 1))
  left=$(( GOAL - $(cpu_used) ))
  chunk=$(( left < 300 ? 300 : (left > 900 ? 900 : left) ))
  [ $FORK -gt 1 ] && chunk=$(( chunk / 2 < 300 ? 300 : chunk / 2 ))
  start=$(date +%s)
  nice -n 19 /usr/bin/time -f "cpu_user=%U cpu_sys=%S wall=%e" -o "$T.time.$k" \
    "$HERE/run.sh" "$PY" "$T" -fork=$FORK -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
    -max_total_time=$chunk -timeout=30 >> "$T.log" 2>&1
  echo "exit=$? start=$start end=$(date +%s)" >> "$T.time.$k"
done
echo "cpu_total=$(cpu_used)" > "$T.done"
