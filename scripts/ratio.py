#!/usr/bin/env python3
"""Per-round ratios of one implementation to another, from a driver's stderr.

    scripts/ratio.py OURS PEER FILE...

With `--rounds N`, the `scaling` and `map` drivers print every case's runs
on stderr ("GROUP IMPL: runs a b c", GROUP being "WORKLOAD threads=N ...").
They compare each urcu case with the best peer only; this prints, for every
group where both appear, OURS / PEER round by round and the median, e.g.
`scripts/ratio.py urcu-memb liburcu-defer_rcu scaling.stderr`.
"""
import re
import statistics
import sys

if len(sys.argv) < 4:
    sys.exit(__doc__)
ours, peer = sys.argv[1], sys.argv[2]
runs = {}
for path in sys.argv[3:]:
    with open(path) as f:
        for line in f:
            m = re.match(r"(.*) (\S+): runs (.*)$", line.strip())
            if not m:
                continue
            group, impl, values = m.groups()
            try:
                runs.setdefault(group, {})[impl] = [float(v) for v in values.split()]
            except ValueError:
                continue  # a failed run
for group, by_impl in runs.items():
    if ours in by_impl and peer in by_impl:
        ratios = [a / b for a, b in zip(by_impl[ours], by_impl[peer])]
        shown = " ".join(f"{r:.2f}" for r in ratios)
        print(f"{group}: {ours} / {peer} {shown} (median {statistics.median(ratios):.2f})")
