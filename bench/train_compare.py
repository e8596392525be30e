#!/usr/bin/env python3
"""Training throughput and peak memory: rkeras's `fit` against Keras 3 / TensorFlow's, side by
side in one interleaved run.

Workloads (Adam, sparse categorical cross-entropy + accuracy, random data, as
`crates/rkeras/benches/train.rs`):

- LeNet-5 (the tutorials' model, 28×28×1 → 10) at batch 32 and at batch 128;
- the Dense 784-64-64-10 MLP at batch 32 (and 128);
- the Keras CIFAR-10 example CNN (32×32×3, four 3×3 convolutions, dropout, Dense 512) at 32;
- MobileNetV2 (alpha 0.35, 96×96×3, 10 classes) at batch 32.

Every side trains the same architecture (one Keras JSON written by this script, loaded by
`rkeras fit model.json` with fresh weights; PyTorch: the same layers written in torch, for
MobileNetV2 torchvision's `mobilenet_v2(width_mult=0.35, num_classes=10)`, in
`channels_last` memory) on the same arrays (`x.npy`, `y.npy`; NCHW views for torch) for two
epochs in a fresh process; the second epoch's wall time (the first pays for start-up and
TensorFlow's tracing) gives samples/s. Peak memory is the process's peak resident set
(`ru_maxrss` from `wait4`), which includes each runtime (Python + TensorFlow on one side).

The cases are interleaved: each round runs, case by case, rkeras then Keras, the order
rotating from round to round, so that machine noise hits both alike; the table shows medians
over rounds and the ratio (samples/s: higher is better for rkeras when the ratio is above 1).

Run from the repository root (hand-run, never in CI):

    cargo build --release -p rkeras-cli
    /root/venv-keras/bin/python bench/train_compare.py              # 3 rounds, 8192 samples
    /root/venv-keras/bin/python bench/train_compare.py -r 5 -n 16384 --profile debug
    /root/venv-keras/bin/python bench/train_compare.py --rkeras /tmp/rkeras-at-some-commit
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CASES = [
    ("LeNet-5, batch 32", "lenet5", 32),
    ("LeNet-5, batch 128", "lenet5", 128),
    ("MLP 784-64-64-10, batch 32", "mlp", 32),
    ("MLP 784-64-64-10, batch 128", "mlp", 128),
    ("CIFAR-10 CNN, batch 32", "cifar_cnn", 32),
    ("MobileNetV2 0.35 96x96, batch 32", "mobilenet_v2", 32),
]
SHAPES = {"lenet5": (28, 28, 1), "mlp": (784,), "cifar_cnn": (32, 32, 3), "mobilenet_v2": (96, 96, 3)}

TORCH_FIT = r"""
import json, sys, time
import numpy as np, torch, torch.nn as nn
kind, xp, yp, batch, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
torch.set_num_threads(threads); torch.set_num_interop_threads(1)
x, y = np.load(xp), np.load(yp).astype("int64")
if x.ndim == 4:
    x = np.ascontiguousarray(x.transpose(0, 3, 1, 2))
if kind == "lenet5":
    m = nn.Sequential(nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 16, 5), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Flatten(), nn.Linear(400, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
                      nn.Linear(84, 10))
elif kind == "mlp":
    m = nn.Sequential(nn.Linear(784, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
elif kind == "cifar_cnn":
    m = nn.Sequential(nn.Conv2d(3, 32, 3, padding=1), nn.ReLU(), nn.Conv2d(32, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Dropout(0.25), nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.Conv2d(64, 64, 3), nn.ReLU(),
                      nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(2304, 512), nn.ReLU(),
                      nn.Dropout(0.5), nn.Linear(512, 10))
else:
    import torchvision
    m = torchvision.models.mobilenet_v2(width_mult=0.35, num_classes=10)
cl = x.ndim == 4
if cl:
    m = m.to(memory_format=torch.channels_last)
opt = torch.optim.Adam(m.parameters(), lr=1e-3, eps=1e-7)
loss_fn = nn.CrossEntropyLoss()
xt, yt = torch.from_numpy(x), torch.from_numpy(y)
secs = []
m.train()
for epoch in range(2):
    t = time.perf_counter()
    perm = torch.randperm(len(xt))
    for i in range(0, len(xt), batch):
        idx = perm[i:i + batch]
        xb = xt[idx]
        if cl:
            xb = xb.contiguous(memory_format=torch.channels_last)
        opt.zero_grad(set_to_none=True)
        out = m(xb)
        loss = loss_fn(out, yt[idx])
        loss.backward()
        opt.step()
        (out.argmax(1) == yt[idx]).float().mean().item()
    secs.append(time.perf_counter() - t)
print(json.dumps({"epoch_seconds": secs}))
"""

KERAS_FIT = r"""
import json, sys, time, os
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import numpy as np, keras
model_json, xp, yp, batch = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
model = keras.models.model_from_json(open(model_json).read())
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
x, y = np.load(xp), np.load(yp)
class T(keras.callbacks.Callback):
    def on_epoch_begin(self, e, logs=None): self.t = time.perf_counter()
    def on_epoch_end(self, e, logs=None): secs.append(time.perf_counter() - self.t)
secs = []
model.fit(x, y, batch_size=batch, epochs=2, verbose=0, shuffle=True, callbacks=[T()])
print(json.dumps({"epoch_seconds": secs}))
"""


def models(tmp: Path) -> dict[str, Path]:
    """Keras JSON of the two architectures (built in a subprocess so this one stays light)."""
    code = r"""
import os, sys
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras
from keras import layers
out = sys.argv[1]
lenet = keras.Sequential([
    keras.Input((28, 28, 1)),
    layers.Conv2D(6, 5, padding="same", activation="relu"), layers.MaxPooling2D(2),
    layers.Conv2D(16, 5, activation="relu"), layers.MaxPooling2D(2), layers.Flatten(),
    layers.Dense(120, activation="relu"), layers.Dense(84, activation="relu"),
    layers.Dense(10, activation="softmax")])
mlp = keras.Sequential([keras.Input((784,)), layers.Dense(64, activation="relu"),
    layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
cifar = keras.Sequential([
    keras.Input((32, 32, 3)),
    layers.Conv2D(32, 3, padding="same", activation="relu"), layers.Conv2D(32, 3, activation="relu"),
    layers.MaxPooling2D(2), layers.Dropout(0.25),
    layers.Conv2D(64, 3, padding="same", activation="relu"), layers.Conv2D(64, 3, activation="relu"),
    layers.MaxPooling2D(2), layers.Dropout(0.25), layers.Flatten(),
    layers.Dense(512, activation="relu"), layers.Dropout(0.5), layers.Dense(10, activation="softmax")])
mnv2 = keras.applications.MobileNetV2(input_shape=(96, 96, 3), alpha=0.35, weights=None, classes=10)
open(os.path.join(out, "lenet5.json"), "w").write(lenet.to_json())
open(os.path.join(out, "mlp.json"), "w").write(mlp.to_json())
open(os.path.join(out, "cifar_cnn.json"), "w").write(cifar.to_json())
open(os.path.join(out, "mobilenet_v2.json"), "w").write(mnv2.to_json())
"""
    subprocess.run([sys.executable, "-c", code, str(tmp)], check=True)
    return {k: tmp / f"{k}.json" for k in SHAPES}


def data(tmp: Path, n: int) -> dict[str, tuple[Path, Path]]:
    import numpy as np

    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, size=n).astype("float32")
    out = {}
    for name, shape in SHAPES.items():
        xp, yp = tmp / f"x_{name}.npy", tmp / f"y_{name}.npy"
        np.save(xp, rng.random((n, *shape), dtype="float32"))
        np.save(yp, y)
        out[name] = (xp, yp)
    return out


def run_measured(cmd: list[str]) -> tuple[str, int]:
    """Runs `cmd` (stdout to a file, stderr dropped); returns its stdout and peak RSS in KiB."""
    pid = os.fork()
    if pid == 0:  # child: exec with stdout to a pipe file
        fd = os.open(RESULT, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            os.execv(cmd[0], cmd)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed with {os.waitstatus_to_exitcode(status)}")
    return Path(RESULT).read_text(), usage.ru_maxrss


RESULT = ""


def rkeras_case(binary: Path, model: Path, xp: Path, yp: Path, batch: int, tmp: Path) -> tuple[float, int]:
    hist = tmp / "h.json"
    cmd = [str(binary), "fit", str(model), "--x", str(xp), "--y", str(yp),
           "--loss", "sparse_categorical_crossentropy", "--optimizer", "adam", "--epochs", "2",
           "--batch-size", str(batch), "--verbose", "0", "--history-json", str(hist)]
    _, rss = run_measured(cmd)
    secs = json.loads(hist.read_text())["epoch_seconds"]
    return secs[1], rss


def keras_case(model: Path, xp: Path, yp: Path, batch: int, script: Path) -> tuple[float, int]:
    out, rss = run_measured([sys.executable, str(script), str(model), str(xp), str(yp), str(batch)])
    secs = json.loads(out.strip().splitlines()[-1])["epoch_seconds"]
    return secs[1], rss


def torch_case(kind: str, xp: Path, yp: Path, batch: int, script: Path, threads: int) -> tuple[float, int]:
    out, rss = run_measured([sys.executable, str(script), kind, str(xp), str(yp), str(batch), str(threads)])
    secs = json.loads(out.strip().splitlines()[-1])["epoch_seconds"]
    return secs[1], rss


def main() -> None:
    global RESULT
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("filter", nargs="?", default="", help="only cases whose label contains this")
    ap.add_argument("-r", "--rounds", type=int, default=3)
    ap.add_argument("-n", "--samples", type=int, default=8192)
    ap.add_argument("--profile", choices=["release", "debug"], default="release",
                    help="which rkeras build to run (target/<profile>/rkeras)")
    ap.add_argument("--rkeras", type=Path, default=None,
                    help="an rkeras binary to run instead of target/<profile>/rkeras (e.g. a copy built at another commit)")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch even when it is installed")
    ap.add_argument("-t", "--threads", type=int, default=2, help="threads for torch (rkeras/TF: all cores)")
    a = ap.parse_args()
    try:
        has_torch = not a.no_torch and subprocess.run([sys.executable, "-c", "import torch, torchvision"],
                                                      capture_output=True).returncode == 0
    except OSError:
        has_torch = False
    sides = ["rkeras", "keras"] + (["torch"] if has_torch else [])
    binary = a.rkeras.resolve() if a.rkeras else ROOT / "target" / a.profile / "rkeras"
    if not binary.is_file():
        sys.exit(f"{binary} not found: cargo build {'--release ' if a.profile == 'release' else ''}-p rkeras-cli")
    cases = [c for c in CASES if a.filter.lower() in c[0].lower()]
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        RESULT = str(tmp / "stdout.txt")
        script = tmp / "keras_fit.py"
        script.write_text(KERAS_FIT)
        tscript = tmp / "torch_fit.py"
        tscript.write_text(TORCH_FIT)
        ms = models(tmp)
        ds = data(tmp, a.samples)
        res: dict[str, dict[str, list]] = {c[0]: {s: [] for s in sides} for c in cases}
        for r in range(a.rounds):
            for i, (label, kind, batch) in enumerate(cases):
                xp, yp = ds[kind]
                k = (r + i) % len(sides)
                for side in sides[k:] + sides[:k]:
                    if side == "rkeras":
                        s, rss = rkeras_case(binary, ms[kind], xp, yp, batch, tmp)
                    elif side == "torch":
                        s, rss = torch_case(kind, xp, yp, batch, tscript, a.threads)
                    else:
                        s, rss = keras_case(ms[kind], xp, yp, batch, script)
                    res[label][side].append((a.samples / s, rss))
                    print(f"round {r + 1} {label:<28} {side:<6} {a.samples / s:9.0f} samples/s  peak {rss / 1024:7.0f} MiB",
                          file=sys.stderr)
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; {a.samples} samples, "
          f"epoch 2 of 2, median of {a.rounds} interleaved rounds; rkeras {a.rkeras or a.profile + ' build'}\n")
    t_head = " | PyTorch samples/s | ours/PyTorch | PyTorch peak RSS" if has_torch else ""
    print(f"| workload | rkeras samples/s | Keras/TF samples/s | ours/theirs | rkeras peak RSS | Keras/TF peak RSS{t_head} |")
    print("|---|---:|---:|---:|---:|---:|" + ("---:|---:|---:|" if has_torch else ""))
    for label, _, _ in cases:
        med = {s: statistics.median(v[0] for v in res[label][s]) for s in sides}
        mem = {s: statistics.median(v[1] for v in res[label][s]) / 1024 for s in sides}
        ours, theirs = med["rkeras"], med["keras"]
        row = (f"| {label} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f}× | {mem['rkeras']:,.0f} MiB | "
               f"{mem['keras']:,.0f} MiB")
        if has_torch:
            row += f" | {med['torch']:,.0f} | {ours / med['torch']:.2f}× | {mem['torch']:,.0f} MiB"
        print(row + " |")


if __name__ == "__main__":
    main()
