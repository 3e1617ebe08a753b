"""Benchmark fastrle.gpu.encode on SA-1B-like masks (needs CuPy and a CUDA GPU).

Masks that a model made on the GPU, to COCO RLE strings on the host. On
generated masks (default: one SA-1B image, 100 masks of 1500x2250, smooth
blobs, bool, C order as models produce them) it reports, after checking
that every path gives pycocotools' strings:

* ``fastrle.gpu.encode`` of a CuPy array and of a torch CUDA tensor, and the
  device-to-host copies one call makes (target: 1 per batch);
* ``.cpu()`` then ``pycocotools.mask.encode`` (of the Fortran copy it needs);
* ``.cpu()`` then ``fastrle.encode`` (CPU, threads);
* segment-anything's ``mask_to_rle_pytorch`` then ``coco_encode_rle`` (what
  its automatic mask generator does for ``output_mode="coco_rle"``).

Example::

    fastrle bench --gpu --masks 100 --size 1500x2250
"""
from __future__ import annotations

import argparse
import sys
from typing import Any, Dict, List

import numpy as np

from .gpu import wall_time


# segment-anything's mask_to_rle_pytorch, the reference GPU-to-RLE path:
# https://github.com/facebookresearch/segment-anything/blob/main/segment_anything/utils/amg.py
# (also in sam2/utils/amg.py), Copyright (c) Meta Platforms, Inc. and
# affiliates, Apache License 2.0
# (https://github.com/facebookresearch/segment-anything/blob/main/LICENSE).
# Restated here step for step: uncompressed counts from the change indices
# of the column-major flattened masks, one .cpu() per mask.
def sam_mask_to_rle_pytorch(tensor: Any) -> List[Dict[str, Any]]:
    """Uncompressed RLE of (B, H, W) bool masks, as segment-anything computes it."""
    import torch

    b, h, w = tensor.shape
    flat = tensor.permute(0, 2, 1).flatten(1)  # Fortran order, h*w per mask
    change = (flat[:, 1:] ^ flat[:, :-1]).nonzero()
    out = []
    for i in range(b):
        idx = change[change[:, 0] == i, 1]
        zero = torch.tensor([0], dtype=idx.dtype, device=idx.device)
        end = torch.tensor([h * w], dtype=idx.dtype, device=idx.device)
        idx = torch.cat([zero, idx + 1, end])
        counts = [] if flat[i, 0] == 0 else [0]
        counts.extend((idx[1:] - idx[:-1]).detach().cpu().tolist())
        out.append({"size": [h, w], "counts": counts})
    return out


def sam_coco_encode_rle(uncompressed: Dict[str, Any]) -> Dict[str, Any]:
    """segment-anything's ``coco_encode_rle`` (same file and licence):
    pycocotools compresses the counts."""
    from pycocotools import mask as mask_utils

    h, w = uncompressed["size"]
    rle = mask_utils.frPyObjects(uncompressed, h, w)
    rle["counts"] = rle["counts"].decode("utf-8")
    return rle


def _counts(rles: Any) -> List[bytes]:
    """The counts strings of a list of RLE dicts, as bytes."""
    return [c.encode() if isinstance(c, str) else bytes(c) for c in (r["counts"] for r in rles)]


def main(argv: List[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    ap.add_argument("--masks", type=int, default=100)
    ap.add_argument("--height", type=int, default=1500)
    ap.add_argument("--width", type=int, default=2250)
    ap.add_argument("--repeat", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = ap.parse_args(argv)

    from .. import gpu, synthetic
    from ..gpu.encoder import CupyEncodeBackend, encode_with

    try:
        backend = CupyEncodeBackend()
    except gpu.GPUUnavailableError as exc:
        print(f"GPU encode benchmark not run: {exc}", file=sys.stderr)
        return 2
    cp = backend.cp
    n, h, w = args.masks, args.height, args.width
    rles, masks = synthetic.sa1b_like(n, h, w, args.seed, dense=True)
    dev = cp.asarray(masks)  # bool (N, H, W), C order
    sync = cp.cuda.get_current_stream().synchronize
    print(f"# GPU encode: {n} masks of {h}x{w} (bool, C order, {masks.nbytes / 1e6:.1f} MB on the device)")

    want_b = _counts(rles)
    got = encode_with(backend, dev)
    if _counts(got) != want_b:
        print("ERROR: fastrle.gpu.encode differs from the generated masks' pycocotools strings", file=sys.stderr)
        return 1
    first = backend.copies
    backend.copies = 0
    encode_with(backend, dev)
    copies = backend.copies  # a second call: a first one may have had to size the result buffer
    print(f"device-to-host copies: {first} in the first call, {copies} in the next")
    rows = [("fastrle.gpu.encode (CuPy array)", wall_time(lambda: gpu.encode(dev), args.repeat, args.warmup, sync))]

    torch: Any = None
    try:
        import torch as _torch

        if _torch.cuda.is_available():
            torch = _torch
    except ImportError:
        pass
    if torch is not None:
        tdev = torch.from_dlpack(dev)
        tsync = torch.cuda.synchronize
        if _counts(gpu.encode(tdev)) != want_b:
            print("ERROR: fastrle.gpu.encode of a torch tensor differs", file=sys.stderr)
            return 1
        rows.append(("fastrle.gpu.encode (torch tensor)",
                     wall_time(lambda: gpu.encode(tdev), args.repeat, args.warmup, tsync)))
    try:
        from pycocotools import mask as mask_utils
    except ImportError:
        mask_utils = None
        print("pycocotools not installed: its rows are skipped")
    if mask_utils is not None:
        def coco() -> Any:
            host = dev.get()  # .cpu()
            return mask_utils.encode(np.asfortranarray(host.transpose(1, 2, 0).view(np.uint8)))

        if _counts(coco()) != want_b:
            print("ERROR: pycocotools differs from the generated strings", file=sys.stderr)
            return 1
        rows.append((".cpu() + pycocotools.mask.encode", wall_time(coco, max(2, args.repeat // 4), 1, sync)))
    try:
        from ..api import encode as cpu_encode

        rows.append((".cpu() + fastrle.encode (CPU)",
                     wall_time(lambda: cpu_encode(dev.get()), args.repeat, args.warmup, sync)))
    except ImportError as exc:
        print(f"CPU row skipped: fastrle.encode unavailable ({exc})")
    if torch is not None and mask_utils is not None:
        def sam() -> Any:
            return [sam_coco_encode_rle(r) for r in sam_mask_to_rle_pytorch(tdev)]

        if _counts(sam()) != want_b:
            print("ERROR: segment-anything's path differs from the generated strings", file=sys.stderr)
            return 1
        rows.append(("segment-anything mask_to_rle_pytorch", wall_time(sam, max(2, args.repeat // 4), 1, tsync)))

    base = rows[0][1]
    print(f"{'what':40s} {'ms':>9s} {'time / gpu.encode':>18s}")
    for name, ms in rows:
        print(f"{name:40s} {ms:9.3f} {ms / base:17.1f}x")
    ok = copies == 1
    print(f"device-to-host copies per gpu.encode call: {copies} (target 1) -> {'PASS' if ok else 'MISS'}")
    return 1 if args.strict and not ok else 0


if __name__ == "__main__":
    sys.exit(main())
