#!/usr/bin/env python3
"""Reads rkeras's TensorBoard event files with TensorBoard's own reader.

Hand-run only: /root/venv-keras/bin/python tools/check_tensorboard.py LOGDIR [--json OUT]

For LOGDIR/train and LOGDIR/validation it loads the events with
tensorboard.backend.event_processing.event_accumulator.EventAccumulator, prints every
scalar series (step, value) and the histogram tags, and fails if `epoch_loss` is missing
from either. With --json it writes what it read (the fixture test compares our reader with
it: crates/rkeras/tests/fixtures/tensorboard/tensorboard_reader.json).
"""

import json
import os
import sys

from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

logdir = sys.argv[1]
out = {}
for sub in ["train", "validation"]:
    acc = EventAccumulator(os.path.join(logdir, sub), size_guidance={"scalars": 0, "histograms": 0, "tensors": 0})
    acc.Reload()
    tags = acc.Tags()
    scalars = {t: [[e.step, e.value] for e in acc.Scalars(t)] for t in tags["scalars"]}
    hists = sorted(tags["histograms"])
    out[sub] = {"scalars": scalars, "histograms": hists, "tensors": sorted(tags["tensors"])}
    print(f"{sub}: {len(scalars)} scalar tags, {len(hists)} histogram tags, tensors {tags['tensors']}")
    for t, s in sorted(scalars.items()):
        print(f"  {t}: {s}")
    for h in hists:
        last = acc.Histograms(h)[-1]
        print(f"  {h}: step {last.step} num {last.histogram_value.num:.0f} min {last.histogram_value.min:.4f} max {last.histogram_value.max:.4f}")
    assert "epoch_loss" in scalars, f"{sub}: no epoch_loss"
if "--json" in sys.argv:
    with open(sys.argv[sys.argv.index("--json") + 1], "w") as f:
        json.dump(out, f, indent=1)
print("TensorBoard read the files: OK")
