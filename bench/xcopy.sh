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
for size in 1M 16M 64M; do
	echo "$out" | awk -v s="BenchmarkObserve/$size" '
		$1 ~ "^"s"(-[0-9]+)?$" {
			for (i = 1; i <= NF; i++) { if ($i == "xcopy") x[n] = $(i-1); if ($i == "ns/op") t[n] = $(i-1) }
			n++
		}
		END {
			asort(x); asort(t)
			m = int((n + 1) / 2)
			printf "%-4s  observe %8.2f ms   xcopy %.2f\n", substr(s, 18), t[m] / 1e6, x[m]
		}'
done
