#!/usr/bin/env bash
# Measures the cost of one AutoDrop observation relative to copy() over the
# same parameters (the "xcopy" metric of BenchmarkObserve), five runs, and
# prints the median per size. Run it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${RUNS:-5}
out=$(go test -run '^$' -bench '^BenchmarkObserve$' -benchtime 20x -count "$runs" . | grep '^BenchmarkObserve')
echo "$out"
echo
echo "median of $runs runs:"
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
for size in 1M 16M 64M; do
	rows=$(echo "$out" | grep "^BenchmarkObserve/$size[- ]")
	t=$(echo "$rows" | awk '{for (i = 1; i <= NF; i++) if ($i == "ns/op") print $(i-1) / 1e6}' | median)
	x=$(echo "$rows" | awk '{for (i = 1; i <= NF; i++) if ($i == "xcopy") print $(i-1)}' | median)
	printf "%-4s  observe %8.2f ms   xcopy %s\n" "$size" "$t" "$x"
done
