"""``fastrle show``: render masks over their image into a PNG or JPEG.

SRC is an SA-1B per-image JSON, an SA-1B tar shard (its own JPEGs), a COCO
annotation file or a COCO results file (both need ``--image-id``), or, with
``--grid K``, a shard or a directory of SA-1B JSONs. The picture is
:func:`fastrle.viz.overlay`'s. Errors are one line on stderr and exit 1, and
the output file is written under a temporary name and renamed at the end, so
a failed run leaves no partial file.
"""

from __future__ import annotations

import argparse
import glob
import math
import os
import sys
import tarfile
from typing import Any, Iterator, List, Optional, Tuple

import numpy as np

from .. import annotations as an
from .. import fileio
from ._args import positive

FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
GRID_CELL = 512  # longest side of one contact-sheet cell, pixels
GRID_GAP = 4

Item = Tuple[Any, Any, str]  # (image for overlay, masks, label)


class ShowError(ValueError):
    """Bad input for ``fastrle show``: reported as one line, exit 1."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``show``."""
    p = sub.add_parser(
        "show", help="draw masks over their image into a PNG/JPEG",
        description="Render the masks of an SA-1B JSON, an SA-1B tar shard, or a COCO annotation "
                    "or results file over their image (fastrle.viz.overlay) into OUT (.png, .jpg). "
                    "Exit 0: written; 1: bad input (nothing written).")
    p.add_argument("src", metavar="SRC", help="SA-1B JSON, SA-1B .tar shard, COCO annotation or "
                                              "results JSON, or (with --grid) a directory")
    p.add_argument("-o", "--output", required=True, metavar="OUT", help="output .png or .jpg")
    p.add_argument("--image", metavar="IMG", help="the image (JPEG/PNG) to draw on; default: the "
                   "shard's JPEG, the SA-1B JSON's file_name next to it, else a black canvas")
    p.add_argument("--image-id", metavar="ID", help="which image: required for COCO files; for a "
                   "shard the first image by default")
    p.add_argument("--top-k", type=positive, metavar="N", help="only the N best masks "
                   "(SA-1B: highest predicted_iou; COCO: largest)")
    p.add_argument("--alpha", type=float, default=0.35, metavar="A", help="fill opacity, 0..1 "
                   "(default 0.35)")
    p.add_argument("--no-contours", action="store_true", help="fills only")
    p.add_argument("--contour-width", type=positive, default=1, metavar="PX",
                   help="contour width in pixels (default 1)")
    p.add_argument("--grid", type=positive, metavar="K", help="contact sheet of the first K images "
                   "of a shard or a directory of SA-1B JSONs")
    return p


# --- sources ------------------------------------------------------------------------

def _load_json(path: str) -> Any:
    try:
        return fileio.read_json(path)
    except fileio.JSONError as e:
        raise ShowError(f"{path}: not a JSON file ({e})") from None


def _same_id(a: Any, b: Optional[str]) -> bool:
    return b is not None and str(a) == b


def _sibling_image(json_path: str, ann: Any) -> Optional[str]:
    """The SA-1B JSON's image next to it: its file_name, else the same stem."""
    d, stem = os.path.dirname(json_path), os.path.splitext(json_path)[0]
    cands = [os.path.join(d, os.path.basename(ann.file_name))] if ann.file_name else []
    cands += [stem + ext for ext in (".jpg", ".jpeg", ".png")]
    return next((c for c in cands if os.path.isfile(c)), None)


def _sa1b_json(path: str, obj: Any, args: argparse.Namespace) -> Item:
    from ..sa1b import from_dict

    ann = from_dict(obj)
    if args.image_id is not None and not _same_id(ann.image_id, args.image_id):
        raise ShowError(f"unknown image id {args.image_id}: {path} holds image {ann.image_id}")
    return args.image or _sibling_image(path, ann), ann, str(ann.image_id)


def _shard_items(path: str, image_id: Optional[str]) -> Iterator[Item]:
    from ..sa1b import iter_shard

    for iid, jpeg, ann in iter_shard(path):
        if image_id is None or _same_id(iid, image_id):
            yield jpeg, ann, str(iid)


def _coco_rle(seg: Any, h: int, w: int, i: int) -> Any:
    """One COCO segmentation as a compressed RLE dict (pycocotools' annToRLE)."""
    try:
        return an.to_rle(seg, h, w)
    except (TypeError, ValueError) as e:
        if an.segmentation_kind(seg) is None:
            raise ShowError(f"mask {i}: segmentation must be polygons or an RLE dict, "
                            f"got {type(seg).__name__}") from None
        raise ShowError(f"mask {i}: malformed segmentation: {e}") from None


def _image_size(image: Optional[str]) -> Optional[Tuple[int, int]]:
    if image is None:
        return None
    from ..viz import load_image

    img = load_image(image)
    return int(img.shape[0]), int(img.shape[1])


def _coco(path: str, obj: Any, args: argparse.Namespace) -> Item:
    """A COCO annotation file (dict with images/annotations) or results file (list)."""
    if args.image_id is None:
        raise ShowError(f"{path} is a COCO file: --image-id is required")
    if isinstance(obj, dict):
        imgs = [im for im in obj.get("images") or [] if isinstance(im, dict)
                and _same_id(im.get("id"), args.image_id)]
        if not imgs:
            raise ShowError(f"unknown image id {args.image_id}: not in {path}'s images")
        try:
            h, w = int(imgs[0]["height"]), int(imgs[0]["width"])
        except (KeyError, TypeError, ValueError):
            raise ShowError(f"image {args.image_id} in {path} has no valid height/width") from None
        anns = [a for a in obj.get("annotations") or [] if isinstance(a, dict)
                and _same_id(a.get("image_id"), args.image_id)]
    else:
        anns = [a for a in obj if isinstance(a, dict) and _same_id(a.get("image_id"), args.image_id)]
        if not anns:
            raise ShowError(f"unknown image id {args.image_id}: no results for it in {path}")
        size = next((a["segmentation"]["size"] for a in anns if isinstance(a.get("segmentation"), dict)
                     and "size" in a["segmentation"]), None)
        if size is None:
            size = _image_size(args.image)
        if size is None:
            raise ShowError(f"image {args.image_id} in {path} has only polygons: give --image for its size")
        h, w = int(size[0]), int(size[1])
    rles = [_coco_rle(a.get("segmentation"), h, w, i) for i, a in enumerate(anns)]
    # a black canvas of the image's size unless --image: overlay checks the sizes
    image = args.image if args.image is not None else np.zeros((h, w, 3), np.uint8)
    return image, rles, str(args.image_id)


def _one(args: argparse.Namespace) -> Item:
    src = args.src
    if os.path.isdir(src):
        raise ShowError(f"{src} is a directory: use --grid K for a contact sheet")
    if tarfile.is_tarfile(src):
        it = next(_shard_items(src, args.image_id), None)
        if it is None:
            raise ShowError(f"unknown image id {args.image_id}: not in shard {src}"
                            if args.image_id is not None else f"shard {src} holds no SA-1B images")
        return (args.image or it[0]), it[1], it[2]
    obj = _load_json(src)
    try:
        layout = an.document(obj).layout
    except an.AnnotationFormatError:
        raise ShowError(f"{src}: not an SA-1B JSON, a COCO annotation file or a COCO results file") from None
    if layout == an.SA1B:
        return _sa1b_json(src, obj, args)
    return _coco(src, obj, args)


def _grid_items(args: argparse.Namespace) -> List[Item]:
    src, k = args.src, args.grid
    if args.image is not None or args.image_id is not None:
        raise ShowError("--grid takes neither --image nor --image-id")
    items: List[Item] = []
    if os.path.isdir(src):
        from ..sa1b import from_dict

        for path in sorted(glob.glob(os.path.join(src, "*.json"))):
            obj = _load_json(path)
            if not (isinstance(obj, dict) and "image" in obj):
                continue  # not an SA-1B per-image file
            ann = from_dict(obj)
            items.append((_sibling_image(path, ann), ann, str(ann.image_id)))
            if len(items) == k:
                break
    elif tarfile.is_tarfile(src):
        for it in _shard_items(src, None):
            items.append(it)
            if len(items) == k:
                break
    else:
        raise ShowError(f"--grid needs a shard or a directory of SA-1B JSONs, got {src}")
    if not items:
        raise ShowError(f"{src} holds no SA-1B images")
    return items


# --- drawing and writing ---------------------------------------------------------------

def _render(item: Item, args: argparse.Namespace) -> np.ndarray:
    from ..viz import overlay

    image, masks, _ = item
    return overlay(image, masks, alpha=args.alpha, contours=not args.no_contours,
                   contour_width=args.contour_width, top_k=args.top_k)


def _sheet(pics: List[np.ndarray]) -> np.ndarray:
    """Pictures scaled down to fit equal cells (longest side at most
    GRID_CELL), row by row, centred, on black."""
    from ..viz.image import pillow

    Image = pillow()
    cols = int(math.ceil(math.sqrt(len(pics))))
    rows = int(math.ceil(len(pics) / cols))
    mh, mw = max(p.shape[0] for p in pics), max(p.shape[1] for p in pics)
    s = min(1.0, GRID_CELL / max(mh, mw, 1))
    ch, cw = max(1, int(round(mh * s))), max(1, int(round(mw * s)))
    sheet = np.zeros((rows * (ch + GRID_GAP) - GRID_GAP, cols * (cw + GRID_GAP) - GRID_GAP, 3), np.uint8)
    for n, pic in enumerate(pics):
        h, w = pic.shape[:2]
        f = min(ch / max(h, 1), cw / max(w, 1))
        th, tw = max(1, min(ch, int(round(h * f)))), max(1, min(cw, int(round(w * f))))
        tile = pic if (th, tw) == (h, w) else np.asarray(Image.fromarray(pic).resize((tw, th), Image.BILINEAR))
        y0 = (n // cols) * (ch + GRID_GAP) + (ch - th) // 2
        x0 = (n % cols) * (cw + GRID_GAP) + (cw - tw) // 2
        sheet[y0:y0 + th, x0:x0 + tw] = tile
    return sheet


def _write(pic: np.ndarray, path: str, fmt: str) -> None:
    """Write the picture atomically: a failed run leaves no partial file."""
    from ..viz import save_image

    fileio.atomic_write(path, lambda tmp: save_image(pic, tmp, fmt))


def run(args: argparse.Namespace) -> int:
    """Run ``show``; 0 when the picture was written, 1 for bad input."""
    try:
        fmt = FORMATS.get(os.path.splitext(args.output)[1].lower())
        if fmt is None:
            raise ShowError(f"output must end in .png, .jpg or .jpeg, got {args.output}")
        if not 0.0 <= args.alpha <= 1.0:
            raise ShowError(f"--alpha must be in [0, 1], got {args.alpha}")
        if not os.path.exists(args.src):
            raise ShowError(f"{args.src}: no such file or directory")
        if args.image is not None and not os.path.isfile(args.image):
            raise ShowError(f"image file not found: {args.image}")
        if args.grid is not None:
            items = _grid_items(args)
            pic = _sheet([_render(it, args) for it in items])
        else:
            items = [_one(args)]
            pic = _render(items[0], args)
        _write(pic, args.output, fmt)
    except (OSError, ValueError, TypeError, KeyError, ImportError, tarfile.TarError) as e:
        msg = " ".join(str(e).split()) or type(e).__name__
        print(f"fastrle show: error: {msg}", file=sys.stderr)
        return 1
    blank = [label for image, _, label in items if image is None]
    if blank:  # said after success, so an error stays the only line
        print(f"fastrle show: note: no image found for image id {', '.join(blank)}; "
              "drew on a black canvas", file=sys.stderr)
    return 0
