"""Times training epochs of an MLP on MNIST in PyTorch, for
bench/epoch_vs_pytorch.sh: the same model, data, batch and optimizer as
bench/epochgo.

Usage: epoch_torch.py DATA_DIR [--model mlp|cnn] [--runs N] [--threads T]
       [--hidden 256] [--batch 128] [--lr 0.05] [--momentum 0.9]

--model cnn is the LeNet-5 of nn.NewCNN: conv 5x5x6, pool, ReLU, conv
5x5x16, pool, ReLU, dense 256-120-84-10 with ReLU.

DATA_DIR holds train-images-idx3-ubyte(.gz) and train-labels-idx1-ubyte(.gz).
The data is loaded once into tensors and batches are gathered by index from a
torch.randperm shuffle (no DataLoader), the fastest plain PyTorch loop. Each
timed epoch starts from a fresh model. Prints "epoch I seconds S loss L acc A"
per epoch, then "median_seconds S".
"""
import argparse
import gzip
import os
import statistics
import struct
import time

import numpy as np
import torch


def read_idx(path):
    for p in (path, path + ".gz"):
        if os.path.exists(p):
            with open(p, "rb") as f:
                raw = f.read()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            if raw[0] != 0 or raw[1] != 0 or raw[2] != 8:
                raise SystemExit(f"{p}: bad IDX magic {raw[:4].hex()}")
            nd = raw[3]
            dims = struct.unpack(">" + "I" * nd, raw[4:4 + 4 * nd])
            data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * nd)
            if data.size != int(np.prod(dims)):
                raise SystemExit(f"{p}: expected {int(np.prod(dims))} data bytes, found {data.size}")
            return data.reshape(dims)
    raise SystemExit(f"{path}(.gz) not found")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("data")
    ap.add_argument("--model", choices=["mlp", "cnn"], default="mlp")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--hidden", type=int, default=256)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--momentum", type=float, default=0.9)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)

    x = read_idx(os.path.join(a.data, "train-images-idx3-ubyte"))
    y = read_idx(os.path.join(a.data, "train-labels-idx1-ubyte"))
    x = torch.from_numpy(((x.reshape(len(x), -1).astype(np.float32) / 255.0) - 0.1307) / 0.3081)
    y = torch.from_numpy(y.astype(np.int64))
    n = len(y)

    secs = []
    for r in range(a.runs):
        torch.manual_seed(1)
        if a.model == "mlp":
            model = torch.nn.Sequential(
                torch.nn.Linear(x.shape[1], a.hidden), torch.nn.ReLU(), torch.nn.Linear(a.hidden, 10))
        else:
            nn = torch.nn
            model = nn.Sequential(
                nn.Unflatten(1, (1, 28, 28)),
                nn.Conv2d(1, 6, 5), nn.MaxPool2d(2), nn.ReLU(),
                nn.Conv2d(6, 16, 5), nn.MaxPool2d(2), nn.ReLU(),
                nn.Flatten(), nn.Linear(256, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))
        opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=a.momentum)
        lossf = torch.nn.CrossEntropyLoss()
        t0 = time.perf_counter()
        perm = torch.randperm(n)
        total, correct = 0.0, 0
        for i in range(0, n, a.batch):
            idx = perm[i:i + a.batch]
            xb, yb = x[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            out = model(xb)
            loss = lossf(out, yb)
            loss.backward()
            opt.step()
            total += loss.item() * len(idx)
            correct += (out.argmax(1) == yb).sum().item()
        s = time.perf_counter() - t0
        secs.append(s)
        print(f"epoch {r} seconds {s:.3f} loss {total / n:.4f} acc {correct / n:.4f}", flush=True)
    print(f"median_seconds {statistics.median(secs):.3f}")


if __name__ == "__main__":
    main()
