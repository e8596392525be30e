#!/usr/bin/env python3
"""rkeras's engine ops against TensorFlow (and PyTorch when installed), side by side in one run.

The workloads are those of `crates/tensor/benches/conv.rs`: LeNet-5's two convolutions, a VGG
block, a pointwise 1×1, MobileNet's depthwise 3×3 (stride 1 and 2), a Conv2DTranspose and the
MLP's 784×64 matmul, each forward and backward (the gradients the Rust bench computes: the
first layer's backward skips dx, as a training step does).

- rkeras: the Rust bench binary run as a subprocess in its JSON mode, one process per case
  (`conv --json CASE-NAME`); its own harness times it.
- TensorFlow: `tf.nn.conv2d` + `tf.nn.bias_add`, `tf.nn.depthwise_conv2d`,
  `tf.nn.conv2d_transpose`, `tf.matmul` inside `tf.function`; backward is `tf.GradientTape`
  with `output_gradients` (TF prunes the forward ops the gradient does not need, so it times
  the same work as the Rust backward).
- PyTorch (only when `import torch` works): the same products in NHWC memory
  (`channels_last`); backward calls `aten.convolution_backward` directly.

Both sides use the same timing rule: warm-up, then repetitions for about `--seconds` (at
least 5, at most 2000), median. The cases are interleaved: each round runs, case by case,
rkeras then TF (then torch), the order rotating from round to round, so that machine noise
hits every side alike. The table shows, per side, the median over rounds of the per-round
medians, and the ratio ours/theirs (lower is better for rkeras).

Run from the repository root:

    cargo bench -p rkeras-tensor --bench conv --no-run
    /root/venv-keras/bin/python bench/compare.py            # all cases, 5 rounds
    /root/venv-keras/bin/python bench/compare.py vgg -r 5   # only cases whose name has "vgg"
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


# ---------------------------------------------------------------------------------------------
# The cases. `name` is the Rust bench's case name exactly (it selects the case there).


@dataclass
class Case:
    name: str  # the Rust bench's name
    op: str  # conv | depthwise | transpose | matmul
    direction: str  # forward | backward
    x: tuple  # input (NHWC) or matmul's a
    w: tuple  # kernel in Keras's layout, or matmul's b
    stride: int = 1
    padding: str = "SAME"
    need_dx: bool = True  # backward: whether the input gradient is computed
    out: tuple = ()  # transpose: output shape
    label: str = field(default="")  # short name for the table

    def __post_init__(self):
        if not self.label:
            self.label = self.name


def conv_pair(name, x, w, stride, padding, first_layer=False):
    what = "backward (dw, db)" if first_layer else "backward (dx, dw, db)"
    return [
        Case(f"{name} forward", "conv", "forward", x, w, stride, padding),
        Case(f"{name} {what}", "conv", "backward", x, w, stride, padding, need_dx=not first_layer),
    ]


def depthwise_pair(name, x, k, stride):
    w = (k, k, x[3], 1)
    return [
        Case(f"{name} forward", "depthwise", "forward", x, w, stride, "SAME"),
        Case(f"{name} backward (dx, dw, db)", "depthwise", "backward", x, w, stride, "SAME"),
    ]


def matmul_pair(batch):
    name = f"matmul {batch}×784 · 784×64"
    return [
        Case(f"{name} forward", "matmul", "forward", (batch, 784), (784, 64)),
        Case(f"{name} backward (da, db)", "matmul", "backward", (batch, 784), (784, 64)),
    ]


CASES = [
    *conv_pair("lenet conv1 32×28×28×1 → 6, 5×5 same", (32, 28, 28, 1), (5, 5, 1, 6), 1, "SAME", first_layer=True),
    *conv_pair("lenet conv2 32×14×14×6 → 16, 5×5 valid", (32, 14, 14, 6), (5, 5, 6, 16), 1, "VALID"),
    *conv_pair("vgg block 8×56×56×64 → 64, 3×3 same", (8, 56, 56, 64), (3, 3, 64, 64), 1, "SAME"),
    *conv_pair("pointwise 8×56×56×128 → 128, 1×1", (8, 56, 56, 128), (1, 1, 128, 128), 1, "VALID"),
    *depthwise_pair("mobilenet dw 8×112×112×32, 3×3 s1 same", (8, 112, 112, 32), 3, 1),
    *depthwise_pair("mobilenet dw 8×56×56×128, 3×3 s2 same", (8, 56, 56, 128), 3, 2),
    # Keras's Conv2DTranspose kernel is (kh, kw, filters, in), as tf.nn.conv2d_transpose's.
    Case("conv2d_transpose 8×28×28×64 → 32, 3×3 s2 same", "transpose", "forward", (8, 28, 28, 64), (3, 3, 32, 64), 2, "SAME", out=(8, 56, 56, 32)),
    *matmul_pair(32),
    *matmul_pair(128),
]


def out_size(n, k, stride, padding):
    return -(-n // stride) if padding == "SAME" else (n - k) // stride + 1


def output_shape(c: Case):
    if c.op == "matmul":
        return (c.x[0], c.w[1])
    if c.op == "transpose":
        return c.out
    n, h, w_, cin = c.x
    kh, kw = c.w[0], c.w[1]
    cout = c.w[3] if c.op == "conv" else cin * c.w[3]
    return (n, out_size(h, kh, c.stride, c.padding), out_size(w_, kw, c.stride, c.padding), cout)


def tf_same_pads(n, k, stride):
    """TensorFlow's `same` padding on one axis: (before, after), the odd pixel after."""
    out = -(-n // stride)
    total = max((out - 1) * stride + k - n, 0)
    return total // 2, total - total // 2


# ---------------------------------------------------------------------------------------------
# Timing, the same rule as the Rust harness (warm-up, a probe, then about `seconds` of reps).


def time_fn(fn, seconds, warmup=3):
    for _ in range(warmup):
        fn()
    t = time.perf_counter()
    fn()
    once = max(time.perf_counter() - t, 1e-6)
    reps = min(max(int(seconds / once), 5), 2000)
    times = []
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2] * 1e3, reps


# ---------------------------------------------------------------------------------------------
# rkeras: the Rust bench binary.


def find_bench_binary(explicit: str | None) -> Path:
    if explicit:
        return Path(explicit)
    cargo = shutil.which("cargo")
    if cargo:
        # Builds if stale (a no-op when `cargo bench --no-run` was just run) and names the binary.
        cmd = [cargo, "bench", "-p", "rkeras-tensor", "--bench", "conv", "--no-run", "--message-format=json"]
        proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if proc.returncode != 0:
            sys.exit(f"`{' '.join(cmd)}` failed:\n{proc.stderr}")
        for line in proc.stdout.splitlines():
            msg = json.loads(line)
            if msg.get("reason") == "compiler-artifact" and msg.get("target", {}).get("name") == "conv" and msg.get("executable"):
                return Path(msg["executable"])
    sys.exit("cannot find the conv bench binary: run `cargo bench -p rkeras-tensor --bench conv --no-run` and pass --bench-bin PATH")


def run_ours(binary: Path, case: Case, seconds: float, threads: int):
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads), RKERAS_BENCH_SECONDS=str(seconds))
    proc = subprocess.run([str(binary), "--json", case.name], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        sys.exit(f"rkeras bench failed on {case.name!r}:\n{proc.stderr}")
    rows = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    hits = [r for r in rows if r.get("name") == case.name]
    if len(hits) != 1:
        sys.exit(f"rkeras bench has no case named {case.name!r} (got {[r.get('name') for r in rows]}): is the binary current?")
    return hits[0]["median_ms"], hits[0]["reps"]


def ours_info(binary: Path, threads: int) -> str:
    env = dict(os.environ, RAYON_NUM_THREADS=str(threads))
    proc = subprocess.run([str(binary), "--json", "no case has this name"], capture_output=True, text=True, env=env)
    first = json.loads(proc.stdout.splitlines()[0]) if proc.stdout else {}
    return f"rayon threads {first.get('rayon_threads', '?')}"


# ---------------------------------------------------------------------------------------------
# TensorFlow.


class TfSide:
    name = "TF"

    def __init__(self, threads: int):
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
        import numpy as np
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        self.tf, self.np = tf, np
        self.cache = {}
        onednn = os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default (on)")
        self.info = (
            f"TensorFlow {tf.__version__}, intra_op {tf.config.threading.get_intra_op_parallelism_threads()}, "
            f"inter_op {tf.config.threading.get_inter_op_parallelism_threads()}, TF_ENABLE_ONEDNN_OPTS={onednn}"
        )

    def prepare(self, c: Case):
        tf, np = self.tf, self.np
        rng = np.random.default_rng(1)

        def rand(shape):
            return tf.constant(rng.uniform(-1.0, 1.0, shape).astype(np.float32))

        x, w = rand(c.x), rand(c.w)
        gy = rand(output_shape(c))
        s = [1, c.stride, c.stride, 1]
        if c.op == "conv":
            b = rand((c.w[3],))

            def fwd(x, w, b):
                return tf.nn.bias_add(tf.nn.conv2d(x, w, s, c.padding), b)
        elif c.op == "depthwise":
            b = rand((c.w[2] * c.w[3],))

            def fwd(x, w, b):
                return tf.nn.bias_add(tf.nn.depthwise_conv2d(x, w, s, c.padding), b)
        elif c.op == "transpose":
            b = None

            def fwd(x, w, b):
                return tf.nn.conv2d_transpose(x, w, c.out, s, c.padding)
        else:
            b = None

            def fwd(x, w, b):
                return tf.matmul(x, w)

        if c.direction == "forward":
            f = tf.function(fwd)
            args = (x, w, b)
        else:

            def bwd(x, w, b, gy):
                wrt = ([x] if c.need_dx else []) + [w] + ([b] if b is not None else [])
                with tf.GradientTape() as tape:
                    tape.watch(wrt)
                    y = fwd(x, w, b)
                return tape.gradient(y, wrt, output_gradients=gy)

            f = tf.function(bwd)
            args = (x, w, b, gy)
        return lambda: f(*args)

    def time(self, c: Case, seconds: float):
        if c.name not in self.cache:
            self.cache[c.name] = self.prepare(c)
        return time_fn(self.cache[c.name], seconds)

    def call_overhead(self, seconds: float):
        """Milliseconds of one call of a `tf.function` that returns its first argument: the
        dispatch cost included in every TF time above (it dominates the smallest cases)."""
        if "overhead" not in self.cache:
            tf = self.tf
            a, b = tf.zeros((32, 784)), tf.zeros((784, 64))
            f = tf.function(lambda a, b: tf.identity(a))
            self.cache["overhead"] = lambda: f(a, b)
        return time_fn(self.cache["overhead"], seconds)[0]


# ---------------------------------------------------------------------------------------------
# PyTorch (optional; NHWC memory via channels_last, gradients by aten.convolution_backward).


class TorchSide:
    name = "torch"

    def __init__(self, torch, threads: int):
        torch.set_num_threads(threads)
        try:
            torch.set_num_interop_threads(1)
        except RuntimeError:
            pass  # already set once in this process
        self.torch = torch
        self.cache = {}
        self.info = f"PyTorch {torch.__version__}, threads {torch.get_num_threads()}, interop {torch.get_num_interop_threads()}"

    def prepare(self, c: Case):
        torch = self.torch
        g = torch.Generator().manual_seed(1)

        def rand(*shape):
            return torch.rand(*shape, generator=g) * 2 - 1

        cl = torch.channels_last
        if c.op == "matmul":
            a, b = rand(*c.x), rand(*c.w)
            gy = rand(*output_shape(c))
            if c.direction == "forward":
                return lambda: torch.matmul(a, b)
            return lambda: (gy @ b.T, a.T @ gy)

        n, h, wd, cin = c.x
        kh, kw = c.w[0], c.w[1]
        x = rand(n, cin, h, wd).contiguous(memory_format=cl)
        pad_x = None
        if c.op == "transpose":
            # Keras (kh, kw, filters, in) → torch's (in, filters, kh, kw). Torch crops `padding`
            # on both sides and adds `output_padding` at the end: pick them to give TF's output
            # size (56 from 28 at stride 2, k 3: padding 1, output_padding 1). Same work, TF's
            # uneven crop shifted by a pixel.
            cout = c.w[2]
            weight = rand(cin, cout, kh, kw).contiguous(memory_format=cl)
            excess = (h - 1) * c.stride + kh - c.out[1]
            ph = (excess + 1) // 2
            op_h = 2 * ph - excess
            return lambda: torch.nn.functional.conv_transpose2d(x, weight, None, c.stride, ph, op_h)
        groups = cin if c.op == "depthwise" else 1
        cout = c.w[3] if c.op == "conv" else cin * c.w[3]
        weight = rand(cout, cin // groups, kh, kw).contiguous(memory_format=cl)
        bias = rand(cout)
        if c.padding == "SAME":
            (pt, pb), (pl, pr) = tf_same_pads(h, kh, c.stride), tf_same_pads(wd, kw, c.stride)
        else:
            pt = pb = pl = pr = 0
        if pt == pb and pl == pr:
            pad, xin = (pt, pl), x
        else:
            # TensorFlow's uneven `same`: pad explicitly (the odd pixel bottom/right), then valid.
            pad, pad_x = (0, 0), (pl, pr, pt, pb)
            xin = torch.nn.functional.pad(x, pad_x).contiguous(memory_format=cl)
        stride = (c.stride, c.stride)
        if c.direction == "forward":
            if pad_x is None:
                return lambda: torch.nn.functional.conv2d(x, weight, bias, stride, pad, 1, groups)
            return lambda: torch.nn.functional.conv2d(
                torch.nn.functional.pad(x, pad_x).contiguous(memory_format=cl), weight, bias, stride, pad, 1, groups
            )
        y = torch.nn.functional.conv2d(xin, weight, bias, stride, pad, 1, groups)
        gy = rand(*y.shape).contiguous(memory_format=cl)
        mask = [c.need_dx, True, True]
        return lambda: torch.ops.aten.convolution_backward(
            gy, xin, weight, [cout], list(stride), list(pad), [1, 1], False, [0, 0], groups, mask
        )

    def time(self, c: Case, seconds: float):
        if c.name not in self.cache:
            self.cache[c.name] = self.prepare(c)
        with self.torch.no_grad():
            return time_fn(self.cache[c.name], seconds)


# ---------------------------------------------------------------------------------------------


class OursSide:
    name = "rkeras"

    def __init__(self, binary: Path, threads: int):
        self.binary, self.threads = binary, threads
        self.info = f"conv bench {binary.relative_to(ROOT) if binary.is_relative_to(ROOT) else binary}, {ours_info(binary, threads)}"

    def time(self, c: Case, seconds: float):
        return run_ours(self.binary, c, seconds, self.threads)


def fmt_ms(v):
    return f"{v:.3f}" if v < 10 else f"{v:.2f}" if v < 100 else f"{v:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("filter", nargs="?", default="", help="only cases whose name contains this")
    ap.add_argument("-r", "--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    ap.add_argument("-s", "--seconds", type=float, default=0.5, help="time per case per side per round (default 0.5)")
    ap.add_argument("-t", "--threads", type=int, default=2, help="threads for every side (default 2)")
    ap.add_argument("--bench-bin", help="the Rust conv bench binary (default: ask cargo)")
    ap.add_argument("--no-torch", action="store_true", help="skip PyTorch even when installed")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    args = ap.parse_args()

    cases = [c for c in CASES if args.filter in c.name]
    if not cases:
        sys.exit(f"no case matches {args.filter!r}")

    ours = OursSide(find_bench_binary(args.bench_bin), args.threads)
    sides = [ours, TfSide(args.threads)]
    torch_note = None
    if not args.no_torch:
        try:
            import torch
        except ImportError:
            torch_note = "PyTorch not installed: skipped"
        else:
            sides.append(TorchSide(torch, args.threads))
    else:
        torch_note = "PyTorch: skipped (--no-torch)"

    print(f"date      {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}")
    print(f"command   {shlex.join([Path(sys.executable).as_posix(), *sys.argv])}")
    print(f"machine   {platform.machine()}, {os.cpu_count()} cpus, {cpu_model()}, Linux {platform.release()}, {cpu_simd()}")
    print(f"python    {platform.python_version()}, numpy {sides[1].np.__version__}")
    for s in sides:
        print(f"{s.name:<9} {s.info}")
    if torch_note:
        print(torch_note)
    blas = {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS_")}
    if blas:
        print(f"env       {' '.join(f'{k}={v}' for k, v in sorted(blas.items()))} (no side here uses OpenBLAS)")
    print(f"timing    {args.rounds} rounds × {len(cases)} cases, ~{args.seconds}s per case per side, median of round medians")
    print(f"load avg  before {load_avg()}", flush=True)

    results = {(s.name, c.name): [] for s in sides for c in cases}
    tf_overhead = []
    t0 = time.time()
    for r in range(args.rounds):
        tf_overhead.append(sides[1].call_overhead(min(args.seconds, 0.2)))
        for i, c in enumerate(cases):
            k = (r + i) % len(sides)
            for s in sides[k:] + sides[:k]:  # rotate who goes first
                ms, _ = s.time(c, args.seconds)
                results[(s.name, c.name)].append(ms)
        print(f"  round {r + 1}/{args.rounds} done ({time.time() - t0:.0f}s, load {load_avg()})", file=sys.stderr, flush=True)
    print(f"load avg  after  {load_avg()}")
    print()

    others = sides[1:]
    header = ["case", "rkeras ms"]
    for s in others:
        header += [f"{s.name} ms", f"ours/{s.name}"]
    rows = []
    for c in cases:
        ours_ms = statistics.median(results[("rkeras", c.name)])
        row = [c.name, fmt_ms(ours_ms)]
        for s in others:
            theirs = statistics.median(results[(s.name, c.name)])
            row += [fmt_ms(theirs), f"{ours_ms / theirs:.2f}"]
        rows.append(row)
    print_table(header, rows, args.markdown)
    print()
    print("ms: median over rounds of each round's median; ours/X < 1 means rkeras is faster.")
    print(
        f"TF's own call overhead (a tf.function returning its input): {fmt_ms(statistics.median(tf_overhead))} ms, "
        "included in every TF time."
    )
    (spread, side, name) = max(
        ((max(v) - min(v)) / statistics.median(v), side, name) for (side, name), v in results.items() if statistics.median(v) > 0
    )
    print(f"Largest spread of round medians: {spread * 100:.0f}% of the median ({side}, {name}).")


def print_table(header, rows, markdown):
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join(["---"] + ["---:"] * (len(header) - 1)) + "|")
        for row in rows:
            print("| " + " | ".join(row) + " |")
        return
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "  ".join(v.ljust(w) if i == 0 else v.rjust(w) for i, (v, w) in enumerate(zip(r, widths)))
    print(line(header))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print(line(row))


def load_avg():
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def cpu_simd():
    """The vector extensions that decide the GEMM kernels (oneDNN uses AVX-512 when present)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return " ".join(f for f in ("avx2", "fma", "avx512f", "amx_tile") if f in flags) or "no avx2"
    except OSError:
        pass
    return "?"


def cpu_model():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


if __name__ == "__main__":
    main()
