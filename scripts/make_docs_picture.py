#!/usr/bin/env python
"""Regenerate docs/overlay.png, the README's picture, with ``fastrle show``.

It writes an SA-1B-style shard (``sa_1.jpg`` + ``sa_1.json``) of one
generated image to a temporary folder: SA-1B-like blob masks from
fastrle.synthetic at a reduced 400x600, on a muted (desaturated, darkened)
version of synthetic.jpeg_bytes' smooth random picture so the masks stand
out. Then it renders the shard with the CLI, exactly as a user would:

    fastrle show sa_1.tar -o docs/overlay.png --top-k 40

Usage: python scripts/make_docs_picture.py [OUT]   (needs Pillow)
"""
from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tarfile
import tempfile

import numpy as np

from fastrle import synthetic

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "docs", "overlay.png")
H, W, MASKS, SEED, TOP_K = 400, 600, 60, 12, 40


def muted_jpeg(h: int, w: int, seed: int) -> bytes:
    """synthetic.jpeg_bytes' picture in dim grey-blue tones."""
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(synthetic.jpeg_bytes(h, w, seed))).convert("RGB"), np.float64)
    grey = rgb.mean(axis=2, keepdims=True)
    img = 40 + 0.45 * grey * np.array([0.85, 0.95, 1.1])
    buf = io.BytesIO()
    Image.fromarray(np.clip(img, 0, 255).astype(np.uint8)).save(buf, format="JPEG", quality=90)
    return buf.getvalue()


def write_shard(path: str) -> None:
    rles = synthetic.sa1b_like(MASKS, H, W, seed=SEED)
    obj = synthetic.sa1b_image_dict(rles, image_id=1, seed=SEED, file_name="sa_1.jpg")
    with tarfile.open(path, "w") as tf:
        for name, data in (("sa_1.jpg", muted_jpeg(H, W, SEED)), ("sa_1.json", json.dumps(obj).encode())):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            tf.addfile(ti, io.BytesIO(data))


def main(argv: list) -> int:
    out = os.path.abspath(argv[0] if argv else OUT)
    with tempfile.TemporaryDirectory() as tmp:
        shard = os.path.join(tmp, "sa_1.tar")
        write_shard(shard)
        cmd = [sys.executable, "-m", "fastrle", "show", shard, "-o", out, "--top-k", str(TOP_K)]
        print("$ fastrle show sa_1.tar -o", os.path.relpath(out), "--top-k", TOP_K)
        rc = subprocess.call(cmd)
    if rc == 0:
        print(f"wrote {out} ({os.path.getsize(out) // 1024} KiB)")
    return rc


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
