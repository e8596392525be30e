#!/usr/bin/env python3
"""Training throughput and peak memory: rkeras's `fit` against Keras 3 / TensorFlow's, side by
side in one interleaved run.

Workloads (Adam, sparse categorical cross-entropy + accuracy, random data, as
`crates/rkeras/benches/train.rs`):

- LeNet-5 (the tutorials' model, 28×28×1 → 10) at batch 32 and at batch 128;
- the Dense 784-64-64-10 MLP at batch 32 (and 128).

Both sides train the same architecture (one Keras JSON written by this script, loaded by
`rkeras fit model.json` with fresh weights) on the same arrays (`x.npy`, `y.npy`) for two
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
]

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
open(os.path.join(out, "lenet5.json"), "w").write(lenet.to_json())
open(os.path.join(out, "mlp.json"), "w").write(mlp.to_json())
"""
    subprocess.run([sys.executable, "-c", code, str(tmp)], check=True)
    return {"lenet5": tmp / "lenet5.json", "mlp": tmp / "mlp.json"}


def data(tmp: Path, n: int) -> dict[str, tuple[Path, Path]]:
    import numpy as np

    rng = np.random.default_rng(1)
    y = rng.integers(0, 10, size=n).astype("float32")
    out = {}
    for name, shape in [("lenet5", (n, 28, 28, 1)), ("mlp", (n, 784))]:
        xp, yp = tmp / f"x_{name}.npy", tmp / f"y_{name}.npy"
        np.save(xp, rng.random(shape, dtype="float32"))
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
    a = ap.parse_args()
    binary = a.rkeras.resolve() if a.rkeras else ROOT / "target" / a.profile / "rkeras"
    if not binary.is_file():
        sys.exit(f"{binary} not found: cargo build {'--release ' if a.profile == 'release' else ''}-p rkeras-cli")
    cases = [c for c in CASES if a.filter.lower() in c[0].lower()]
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        RESULT = str(tmp / "stdout.txt")
        script = tmp / "keras_fit.py"
        script.write_text(KERAS_FIT)
        ms = models(tmp)
        ds = data(tmp, a.samples)
        res: dict[str, dict[str, list]] = {c[0]: {"rkeras": [], "keras": []} for c in cases}
        for r in range(a.rounds):
            for i, (label, kind, batch) in enumerate(cases):
                xp, yp = ds[kind]
                order = ["rkeras", "keras"] if (r + i) % 2 == 0 else ["keras", "rkeras"]
                for side in order:
                    if side == "rkeras":
                        s, rss = rkeras_case(binary, ms[kind], xp, yp, batch, tmp)
                    else:
                        s, rss = keras_case(ms[kind], xp, yp, batch, script)
                    res[label][side].append((a.samples / s, rss))
                    print(f"round {r + 1} {label:<28} {side:<6} {a.samples / s:9.0f} samples/s  peak {rss / 1024:7.0f} MiB",
                          file=sys.stderr)
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; {a.samples} samples, "
          f"epoch 2 of 2, median of {a.rounds} interleaved rounds; rkeras {a.rkeras or a.profile + ' build'}\n")
    print(f"| workload | rkeras samples/s | Keras/TF samples/s | ours/theirs | rkeras peak RSS | Keras/TF peak RSS |")
    print("|---|---:|---:|---:|---:|---:|")
    for label, _, _ in cases:
        ours = statistics.median(v[0] for v in res[label]["rkeras"])
        theirs = statistics.median(v[0] for v in res[label]["keras"])
        m_ours = statistics.median(v[1] for v in res[label]["rkeras"]) / 1024
        m_theirs = statistics.median(v[1] for v in res[label]["keras"]) / 1024
        print(f"| {label} | {ours:,.0f} | {theirs:,.0f} | {ours / theirs:.2f}× | {m_ours:,.0f} MiB | {m_theirs:,.0f} MiB |")


if __name__ == "__main__":
    main()
