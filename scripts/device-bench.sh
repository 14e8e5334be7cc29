#!/usr/bin/env bash
# The 16-core benchmark run, as one command for a borrowed machine.
#
#   scripts/device-bench.sh prepare [--perf]  # here: build the drivers into .devcarry/
#   scripts/device-bench.sh run                # there: run them, results under $OUT
#   scripts/device-bench.sh diagnose           # there: the map's 16-thread questions
#
# `prepare` builds the release binaries of the two drivers (scaling, map; in
# the bench/ member, urcu-bench) and copies them into .devcarry/ (ignored by git: name it in the device call's `carry`).
# `run` runs both drivers at 1-16 threads with the configuration quoted in
# BENCHMARKS.md, each under its own time limit so that one slow driver
# cannot eat the other's share, and leaves map.txt, machine.txt and
# results.tgz (every other output, CSVs and SVG plots) in $OUT (or
# ./device-out). About 4 minutes
# without the liburcu peers (230 s on 2026-11-28, before `--workloads all`
# included parked_reader, about 10 s more); allow 7 with them.
#
# `diagnose` (about 3 minutes) asks why the map trails scc at 16 threads
# (BENCHMARKS.md, "Current design, 16-core"): ReadHeavy and Exchange at 16
# and 15 threads (one CPU left for the reclaimer), with read-side sections
# of 128, 16 and 1 operations (a preempted reader holds up every grace
# period, and removed slots wait for grace periods), and RapidGrow at 16;
# each urcu case prints its grace periods and its table's overflow lines;
# and, after `prepare --perf` (which carries this machine's perf and its
# libraries, about 31 MB), a perf profile of ReadHeavy at 16 threads for
# urcu-inline and scc HashIndex. Profiles are read here afterwards:
# `perf buildid-cache -a target/release/deps/map-*` then `perf report -i`.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
prepare)
  mkdir -p .devcarry
  # With liburcu-dev installed here, the scaling driver gets its liburcu
  # peers, and the shared libraries travel with it (the device has none).
  features=()
  if dpkg -s liburcu-dev >/dev/null 2>&1; then
    features=(--features liburcu)
    mkdir -p .devcarry/lib
    cp -L /usr/lib/x86_64-linux-gnu/liburcu*.so.8 .devcarry/lib/
  else
    echo "note: liburcu-dev is not installed: no liburcu rows on the device"
  fi
  for bench in scaling map; do
    exe=$(cargo bench -p urcu-bench --bench "$bench" "${features[@]}" --no-run --message-format=json 2>/dev/null |
      grep -o '"executable":"[^"]*"' | tail -1 | cut -d'"' -f4)
    cp "$exe" ".devcarry/$bench"
  done
  if [ "${2:-}" = "--perf" ]; then
    mkdir -p .devcarry/perf
    cp -L "$(command -v perf)" .devcarry/perf/
    # Its libraries, except the C library itself (the device has its own).
    ldd "$(command -v perf)" | awk '{print $3}' | grep '^/' |
      grep -v -E 'libc\.so|libm\.so|ld-linux' | xargs -I{} cp -L {} .devcarry/perf/
  fi
  # The device needs no debug info (profiles are read here, by build id).
  for b in .devcarry/scaling .devcarry/map; do
    objcopy --strip-debug "$b"
  done
  du -sh .devcarry
  ;;
diagnose)
  out="${OUT:-$PWD/device-out}"
  mkdir -p "$out/diag"
  bin=.devcarry
  export CARGO_TARGET_DIR="$out/diag"
  one() { # THREADS CASE PIN_BATCH
    echo "== $2 threads=$1 pin-batch=$3"
    # Four times the published run's operations: at 16 threads that run
    # lasts about 40 ms, too short to tell variants apart.
    timeout 30 "$bin/map" --bench --threads "$1" --case "$2" --capacity-log2 21 \
      --ops-factor 12 --pin-batch "$3" 2>&1 || echo "exit $?"
  }
  {
    for w in read_heavy exchange; do
      for impl in scc-hashindex scc-hashmap urcu-inline urcu; do one 16 "$w:$impl" 128; done
      for b in 16 1; do one 16 "$w:urcu-inline" "$b"; one 16 "$w:urcu" "$b"; done
      for impl in scc-hashindex urcu-inline; do one 15 "$w:$impl" 128; done
    done
    # Growth: on the 2-core VM fresh pages (our table ends twice scc's size)
    # were a quarter of the time; is it so here?
    for impl in scc-hashindex scc-hashmap urcu-inline urcu; do one 16 "rapid_grow:$impl" 128; done
  } > "$out/diagnose.txt"
  if [ -x "$bin/perf/perf" ]; then
    perf=(env LD_LIBRARY_PATH="$PWD/$bin/perf" "$bin/perf/perf")
    for impl in urcu-inline scc-hashindex; do
      # More operations still, so that the prefill is a small part of it.
      timeout 40 "${perf[@]}" record -F 1999 -g -o "$out/diag/rh16-$impl.data" -- \
        "$bin/map" --bench --threads 16 --case "read_heavy:$impl" --capacity-log2 21 \
        --ops-factor 24 >> "$out/perf.txt" 2>&1 || echo "perf $impl: exit $?" >> "$out/perf.txt"
      timeout 40 "${perf[@]}" stat -e task-clock,cycles,instructions,cache-misses -- \
        "$bin/map" --bench --threads 16 --case "read_heavy:$impl" --capacity-log2 21 \
        --ops-factor 24 >> "$out/perf.txt" 2>&1 || echo "perf stat $impl: exit $?" >> "$out/perf.txt"
    done
  fi
  (cd "$out" && tar czf diag.tgz diag && rm -rf diag)
  grep -E "^==|RESULT|urcu" "$out/diagnose.txt" | cut -c1-160
  ;;
run)
  out="${OUT:-$PWD/device-out}"
  mkdir -p "$out"
  bin=.devcarry
  [ -x "$bin/scaling" ] || bin="$(dirname "$0")"
  export LD_LIBRARY_PATH="$PWD/.devcarry/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  # The drivers write results.csv and *.svg under $CARGO_TARGET_DIR/<driver>/.
  export CARGO_TARGET_DIR="$out"
  # One file for the machine (the call brings back at most 8 files).
  { echo "nproc: $(nproc)"; echo "THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>&1)"
    lscpu 2>&1 || true; } > "$out/machine.txt"
  timeout 240 "$bin/scaling" --bench --threads 1,2,4,8,16 --secs 0.7 --workloads all \
    > "$out/scaling.txt" 2>&1 || echo "scaling: exit $?" >> "$out/scaling.txt"
  # --settle 0: the pause before each growing case (6 s by default, for
  # VMs whose balloon takes freed memory back) would not fit this call's
  # time; machine.txt says what the machine is.
  timeout 240 "$bin/map" --bench --threads 1,4,16 --capacity-log2 21 --ops-factor 3 \
    --workloads read_heavy,exchange,rapid_grow,own_loop --settle 0 \
    > "$out/map.txt" 2>&1 || echo "map: exit $?" >> "$out/map.txt"
  CARGO_TARGET_DIR="$out/single" timeout 60 "$bin/map" --bench --threads 1 \
    --workloads memory,resize_latency --settle 0 \
    > "$out/map-memory.txt" 2>&1 || echo "map memory: exit $?" >> "$out/map-memory.txt"
  # A grace period asleep on one parked reader, and how much it slows the
  # readers it does not wait for, with one CPU left for the parked reader
  # (about 15 s).
  CARGO_TARGET_DIR="$out/parked" timeout 60 "$bin/scaling" --bench --threads 1,4,15 --secs 0.7 \
    --rounds 3 --workloads parked_reader \
    > "$out/parked_reader.txt" 2>&1 || echo "parked_reader: exit $?" >> "$out/parked_reader.txt"
  # Batched lookups against single ones and the peers' (one thread, 3
  # rounds, about 60 s): does the overlap of misses hold off a VM?
  CARGO_TARGET_DIR="$out/batch" timeout 120 "$bin/map" --bench --workloads batch_get \
    --capacity-log2 21 --rounds 3 \
    > "$out/batch_get.txt" 2>&1 || echo "batch_get: exit $?" >> "$out/batch_get.txt"
  # The device call brings back at most 8 files (with `diagnose` after
  # this, in the same call): pack everything but map.txt and machine.txt.
  packed=(scaling map single parked batch scaling.txt map-memory.txt parked_reader.txt batch_get.txt)
  (cd "$out" && tar czf results.tgz "${packed[@]}" && rm -rf "${packed[@]}")
  grep -A200 '^workload' "$out/map.txt" | head -60
  ;;
*)
  echo "usage: $0 prepare [--perf] | run | diagnose" >&2
  exit 2
  ;;
esac
