#!/usr/bin/python3
"""Trains the small models Veil's ONNX import is tested on, and exports them (opset 13).

Run by hand: /usr/bin/python3 models/make_models.py [NAME ...] (needs Debian's python3-torch; CI never runs it). The
first five committed files came from an earlier revision that seeded once per run rather than once per model:
remaking them changes their weights, not their shape.
Data: data/digits.csv.gz (8x8 digits, pixels 0..16) and Fashion-MNIST's IDX files
(/usr/share/datasets/fashion-mnist, Debian's dataset-fashion-mnist; pixels scaled to [0, 1] as Veil reads them).
The .onnx files are committed next to this script; their accuracies are printed for the README.
"""
import gzip, os, struct, sys
import numpy as np
import torch
import torch.nn as nn

torch.manual_seed(7)
np.random.seed(7)
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FASHION = os.environ.get("VEIL_FASHION_MNIST", "/usr/share/datasets/fashion-mnist")
torch.set_num_threads(2)


def digits():
    rows = np.loadtxt(gzip.open(os.path.join(ROOT, "data", "digits.csv.gz"), "rt"), delimiter=",")
    x, y = rows[:, :64].astype(np.float32), rows[:, 64].astype(np.int64)
    # The same split as Veil's tests: the first 1,437 rows train, the last 360 test.
    return (x[:1437], y[:1437]), (x[1437:], y[1437:])


def idx(name):
    with gzip.open(os.path.join(FASHION, name), "rb") as f:
        magic = struct.unpack(">I", f.read(4))[0]
        dims = struct.unpack(">" + "I" * (magic & 0xFF), f.read(4 * (magic & 0xFF)))
        return np.frombuffer(f.read(), dtype=np.uint8).reshape(dims)


def fashion():
    xtr = idx("train-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
    xte = idx("t10k-images-idx3-ubyte.gz").reshape(-1, 784).astype(np.float32) / 255
    return (xtr, idx("train-labels-idx1-ubyte.gz").astype(np.int64)), (xte, idx("t10k-labels-idx1-ubyte.gz").astype(np.int64))


class Square(nn.Module):
    def forward(self, x):
        return x * x


def train(model, x, y, shape, epochs, lr):
    xt = torch.tensor(x).reshape((-1,) + shape)
    yt = torch.tensor(y)
    opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        perm = torch.randperm(len(xt))
        for i in range(0, len(xt), 128):
            b = perm[i:i + 128]
            opt.zero_grad()
            loss = loss_fn(model(xt[b]), yt[b])
            loss.backward()
            opt.step()
    model.eval()
    return model


def accuracy(model, x, y, shape):
    with torch.no_grad():
        return float((model(torch.tensor(x).reshape((-1,) + shape)).argmax(1).numpy() == y).mean())


def export(model, shape, name, x, y):
    path = os.path.join(HERE, name + ".onnx")
    torch.onnx.export(model, torch.zeros((1,) + shape), path, opset_version=13, input_names=["x"], output_names=["logits"],
                      dynamic_axes={"x": {0: "batch"}, "logits": {0: "batch"}}, do_constant_folding=True)
    print(f"{name}: test accuracy {accuracy(model, x, y, shape):.4f}, {os.path.getsize(path)} bytes", flush=True)


ONLY = set(sys.argv[1:])  # names to remake; none: all


def make(name, build, data, shape, epochs, lr, scale=1.0):
    if ONLY and name not in ONLY:
        return
    torch.manual_seed(7)  # each model from the same seed, whatever else is made in the run
    (xtr, ytr), (xte, yte) = data
    export(train(build(), xtr / scale, ytr, shape, epochs, lr), shape, name, xte / scale, yte)


D = digits()
make("digits_mlp", lambda: nn.Sequential(nn.Linear(64, 32), nn.BatchNorm1d(32), nn.ReLU(), nn.Linear(32, 10)), D, (64,), 60, 0.01)
make("digits_cnn", lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                                         nn.Linear(64, 10)), D, (1, 8, 8), 60, 0.01, scale=16)
if not os.path.isdir(FASHION):
    sys.exit(f"Fashion-MNIST not found in {FASHION}: apt-get install dataset-fashion-mnist")
F = fashion()
make("fashion_mlp", lambda: nn.Sequential(nn.Linear(784, 64), nn.BatchNorm1d(64), nn.ReLU(), nn.Linear(64, 10)), F, (784,), 6, 0.002)
make("fashion_cnn", lambda: nn.Sequential(nn.Conv2d(1, 5, 5, stride=2), nn.BatchNorm2d(5), nn.ReLU(), nn.AvgPool2d(2), nn.Flatten(),
                                          nn.Linear(180, 10)), F, (1, 28, 28), 6, 0.003)
# CryptoNets (Gilad-Bachrach et al., ICML 2016): a padded 5x5 convolution of stride 2 with 5 maps, square, 100 units,
# square, 10 outputs; here on Fashion-MNIST, whose images have MNIST's shape.
make("cryptonets", lambda: nn.Sequential(nn.Conv2d(1, 5, 5, stride=2, padding=1), Square(), nn.Flatten(), nn.Linear(845, 100), Square(),
                                         nn.Linear(100, 10)), F, (1, 28, 28), 6, 0.001)
# The shape of Veil's own Fashion-MNIST CNN (SquareCnn: 5x5 stride 2, 5 maps, square, 64, square, 10) with a BatchNorm,
# to compare the imported network's latency with the hand-written one's.
make("fashion_square_cnn", lambda: nn.Sequential(nn.Conv2d(1, 5, 5, stride=2), nn.BatchNorm2d(5), Square(), nn.Flatten(), nn.Linear(720, 64), Square(),
                                                 nn.Linear(64, 10)), F, (1, 28, 28), 6, 0.001)
