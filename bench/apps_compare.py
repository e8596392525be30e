#!/usr/bin/env python3
"""Inference of keras.applications models: rkeras against Keras 3, PyTorch and onnxruntime,
side by side in one interleaved run.

Models: MobileNetV2, ResNet50, InceptionV3, VGG16, DenseNet121 at Keras's default input size
(299x299 for InceptionV3, 224x224 otherwise), random weights, batch 1 and 8.

Sides (each in a fresh process per round, model and side; the process times batch 1, then 8):
- rkeras: the `apps` bench binary (`cargo bench -p rkeras --bench apps`, release profile), i.e.
  `Model::forward(training=false)`, which runs the model's inference plan;
- keras-call: Keras 3 `model(x, training=False)` inside `tf.function` (the compiled call);
- keras-predict: `model.predict(x, batch_size=B)`;
- torch-nchw / torch-cl: the torchvision model of the same architecture under
  `torch.inference_mode()`, NCHW and `channels_last`;
- ort: that torchvision model exported to ONNX (opset 17, dynamic batch), onnxruntime CPU,
  all graph optimizations, `intra_op_num_threads` = threads.

All sides get the same thread count (`--threads`, default 2): RAYON_NUM_THREADS, TF
intra-op threads (inter-op 1), torch.set_num_threads, ORT intra-op threads. Timing rule, every
side: two warm-up calls, then repetitions for about `--seconds` (at least 5); the median. The
rounds rotate which side goes first. The table gives the median over rounds of each side's
medians, the ratios rkeras/ORT and rkeras/Keras-call, and each side's peak RSS (the largest
over rounds of its process's peak, which ran batch 1 then batch 8). It also prints the CPU,
its vector extensions, the load average, and the measured FMA peak from the kernels bench.

Run from the repository root, by hand (never in CI):

    cargo bench -p rkeras --bench apps --no-run
    /root/venv-keras/bin/python bench/apps_compare.py                     # all, 3 rounds
    /root/venv-keras/bin/python bench/apps_compare.py -m MobileNetV2 -r 2 --sides rkeras,ort
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
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODELS = {
    "MobileNetV2": ("mobilenet_v2", 224),
    "ResNet50": ("resnet50", 224),
    "InceptionV3": ("inception_v3", 299),
    "VGG16": ("vgg16", 224),
    "DenseNet121": ("densenet121", 224),
}
SIDES = ["rkeras", "keras-call", "keras-predict", "torch-nchw", "torch-cl", "ort"]
BATCHES = [1, 8]


def timeit(fn, seconds: float) -> float:
    fn()
    fn()
    t = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t, 1e-6)
    reps = int(min(max(seconds / once, 5), 1000))
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def peak_rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def onnx_path(cache: Path, model: str) -> Path:
    return cache / f"{model}.onnx"


def torch_model(model: str):
    import torch
    import torchvision

    name, _ = MODELS[model]
    kwargs = {"weights": None}
    if name == "inception_v3":
        kwargs.update(aux_logits=True, init_weights=False)
    m = getattr(torchvision.models, name)(**kwargs).eval()
    torch.manual_seed(0)
    return m


def worker(side: str, model: str, seconds: float, threads: int, cache: Path) -> dict:
    """Runs in a fresh process: times batch 1 and 8, returns medians and peak RSS."""
    size = MODELS[model][1]
    out = {}
    if side.startswith("keras"):
        import numpy as np
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        import keras

        m = getattr(keras.applications, model)(weights=None)
        call = tf.function(lambda x: m(x, training=False))
        for b in BATCHES:
            x = np.random.default_rng(0).random((b, size, size, 3), dtype=np.float32)
            if side == "keras-call":
                xt = tf.constant(x)
                out[b] = timeit(lambda: call(xt).numpy(), seconds)
            else:
                out[b] = timeit(lambda: m.predict(x, batch_size=b, verbose=0), seconds)
    elif side.startswith("torch"):
        import torch

        torch.set_num_threads(threads)
        torch.set_num_interop_threads(1)
        m = torch_model(model)
        cl = side == "torch-cl"
        if cl:
            m = m.to(memory_format=torch.channels_last)
        for b in BATCHES:
            x = torch.rand(b, 3, size, size)
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                out[b] = timeit(lambda: m(x), seconds)
    elif side == "ort":
        import numpy as np
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        s = ort.InferenceSession(str(onnx_path(cache, model)), so, providers=["CPUExecutionProvider"])
        name = s.get_inputs()[0].name
        for b in BATCHES:
            x = np.random.default_rng(0).random((b, 3, size, size), dtype=np.float32)
            out[b] = timeit(lambda: s.run(None, {name: x}), seconds)
    else:
        raise SystemExit(f"unknown side {side}")
    return {"ms": out, "rss_mb": peak_rss_mb()}


def export_onnx(model: str, cache: Path) -> None:
    import torch

    path = onnx_path(cache, model)
    if path.exists():
        return
    size = MODELS[model][1]
    m = torch_model(model)
    x = torch.rand(1, 3, size, size)
    torch.onnx.export(
        m,
        (x,),
        str(path),
        input_names=["x"],
        output_names=["y"],
        dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )


def rkeras_bin() -> str:
    msgs = subprocess.run(
        ["cargo", "bench", "-p", "rkeras", "--bench", "apps", "--no-run", "--message-format=json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for line in msgs.splitlines():
        m = json.loads(line)
        if m.get("reason") == "compiler-artifact" and m.get("target", {}).get("name") == "apps" and m.get("executable"):
            return m["executable"]
    raise SystemExit("could not find the apps bench binary")


def run_side(side: str, model: str, args, cache: Path, binary: str) -> dict:
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads), OMP_NUM_THREADS=str(args.threads),
               TF_CPP_MIN_LOG_LEVEL="3")
    if side == "rkeras":
        res = {"ms": {}, "rss_mb": 0.0}
        for b in BATCHES:
            p = subprocess.run([binary, "--app", model, "--batch", str(b), "--seconds", str(args.seconds)],
                               env=env, capture_output=True, text=True, check=True)
            r = json.loads(p.stdout.strip().splitlines()[-1])
            res["ms"][b] = r["median_ms"]
            res["rss_mb"] = max(res["rss_mb"], r["rss_mb"])
            res.setdefault("extra", {})[b] = r
        return res
    p = subprocess.run([sys.executable, __file__, "--worker", side, model, "--seconds", str(args.seconds),
                        "--threads", str(args.threads), "--cache", str(cache)],
                       env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise SystemExit(f"{side} {model} failed:\n{p.stderr[-3000:]}")
    res = json.loads(p.stdout.strip().splitlines()[-1])
    res["ms"] = {int(k): v for k, v in res["ms"].items()}
    return res


def fma_peak(threads: int) -> str:
    try:
        msgs = subprocess.run(["cargo", "bench", "-p", "rkeras-tensor", "--bench", "kernels", "--no-run",
                               "--message-format=json"], cwd=ROOT, capture_output=True, text=True, check=True).stdout
        exe = next(json.loads(l)["executable"] for l in msgs.splitlines()
                   if json.loads(l).get("target", {}).get("name") == "kernels" and json.loads(l).get("executable"))
        p = subprocess.run([exe, "--json", "no-case-matches-this"], capture_output=True, text=True,
                           env=dict(os.environ, RAYON_NUM_THREADS=str(threads)))
        return p.stdout.strip().splitlines()[0]
    except Exception as e:  # the table is still useful without it
        return f"(peak probe unavailable: {e})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--worker", nargs=2, metavar=("SIDE", "MODEL"))
    ap.add_argument("--export", metavar="MODEL")
    ap.add_argument("-m", "--models", default=",".join(MODELS))
    ap.add_argument("--sides", default=",".join(SIDES))
    ap.add_argument("-r", "--rounds", type=int, default=3)
    ap.add_argument("-s", "--seconds", type=float, default=2.0)
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "rkeras-apps-onnx"))
    args = ap.parse_args()
    cache = Path(args.cache)
    cache.mkdir(parents=True, exist_ok=True)
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.seconds, args.threads, cache)))
        return
    if args.export:
        export_onnx(args.export, cache)
        return
    models = [m for m in args.models.split(",") if m]
    sides = [s for s in args.sides.split(",") if s]
    binary = rkeras_bin() if "rkeras" in sides else ""
    if "ort" in sides:
        for m in models:
            subprocess.run([sys.executable, __file__, "--export", m, "--cache", str(cache)], check=True,
                           capture_output=True)
    flags = ""
    try:
        flags = " ".join(sorted({f for f in open("/proc/cpuinfo").read().split() if f.startswith(("avx", "fma"))}))
    except OSError:
        pass
    cpu = platform.processor() or platform.machine()
    try:
        cpu = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    print(f"# {cpu}; {os.cpu_count()} cores; threads {args.threads}; {flags}")
    print(f"# FMA peak: {fma_peak(args.threads)}")
    print(f"# load average before: {os.getloadavg()}")
    results = {(m, s): [] for m in models for s in sides}
    for r in range(args.rounds):
        for i, m in enumerate(models):
            k = (r + i) % len(sides)
            for s in sides[k:] + sides[:k]:
                results[(m, s)].append(run_side(s, m, args, cache, binary))
                print(f"# round {r + 1} {m} {s}: " + json.dumps(results[(m, s)][-1]["ms"]), file=sys.stderr)
    print(f"# load average after: {os.getloadavg()}")
    head = "| model | batch | " + " | ".join(f"{s} ms" for s in sides)
    extra = []
    if "rkeras" in sides and "ort" in sides:
        extra.append("rkeras / ORT")
    if "rkeras" in sides and "keras-call" in sides:
        extra.append("rkeras / Keras call")
    print(head + (" | " + " | ".join(extra) if extra else "") + " |")
    print("|---|---|" + "---|" * (len(sides) + len(extra)))
    for m in models:
        for b in BATCHES:
            med = {s: statistics.median(x["ms"][b] for x in results[(m, s)]) for s in sides}
            row = f"| {m} | {b} | " + " | ".join(f"{med[s]:.1f}" for s in sides)
            if "rkeras / ORT" in extra:
                row += f" | {med['rkeras'] / med['ort']:.2f}"
            if "rkeras / Keras call" in extra:
                row += f" | {med['rkeras'] / med['keras-call']:.2f}"
            print(row + " |")
    print()
    print("| model | " + " | ".join(f"{s} peak RSS MB" for s in sides) + " |")
    print("|---|" + "---|" * len(sides))
    for m in models:
        print(f"| {m} | " + " | ".join(f"{max(x['rss_mb'] for x in results[(m, s)]):.0f}" for s in sides) + " |")


if __name__ == "__main__":
    main()
