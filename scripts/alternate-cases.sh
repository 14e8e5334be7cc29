#!/usr/bin/env bash
# Alternates two builds of the scaling driver case by case, round by round,
# for a close call on a noisy VM (BENCHMARKS.md, "Method").
#
#   scripts/alternate-cases.sh BASE NEW ROUNDS THREADS SECS OURS PEERS
#
# BASE and NEW are two builds of the scaling driver (for example a copy of
# target/release/deps/scaling-* made before a change, and the one after);
# OURS and PEERS are comma-separated WORKLOAD:IMPL cases. Each round runs
# every case of OURS with BASE then with NEW, then every case of PEERS with
# NEW, each for SECS seconds at THREADS threads in a fresh process. Prints
# "ROUND base|new|peer CASE Mops/s", one line per run; compare medians, and
# ratios to a peer within the same round.
set -euo pipefail
[ $# -eq 7 ] || { sed -n 2,14p "$0"; exit 2; }
base=$1 new=$2 rounds=$3 threads=$4 secs=$5
IFS=, read -r -a ours <<<"$6"
IFS=, read -r -a peers <<<"$7"
run() { # BIN CASE -> Mops/s
    "$1" --case "$2" --threads "$threads" --secs "$secs" |
        sed -E 's/.*ops=([0-9]+) secs=([0-9.]+).*/\1 \2/' |
        awk '{ printf "%.1f", $1 / $2 / 1e6 }'
}
for r in $(seq 1 "$rounds"); do
    for c in "${ours[@]}"; do
        echo "$r base $c $(run "$base" "$c")"
        echo "$r new $c $(run "$new" "$c")"
    done
    for c in "${peers[@]}"; do
        echo "$r peer $c $(run "$new" "$c")"
    done
done
