"""Annotation files: the one place that knows the three layouts, turns
segmentations into RLEs and states each format's area/bbox convention.

Layouts (:func:`document` recognises them from the parsed JSON):

- ``"coco"``: a COCO dataset, ``{"images": [...], "annotations": [...]}``;
  each annotation names its ``image_id``.
- ``"coco-results"``: a COCO results file, a list of result objects
  (``image_id``, ``segmentation``, ``score``, ...).
- ``"sa1b"``: an SA-1B per-image file, ``{"image": {...}, "annotations": [...]}``
  with compressed-RLE segmentations.

Conventions for the ``area`` and ``bbox`` a file gives for an RLE mask
(:func:`expected_boxes`):

- COCO (both layouts): ``area`` is the mask's pixel count and ``bbox`` is
  pycocotools' ``toBbox``: ``[x0, y0, x1 - x0 + 1, y1 - y0 + 1]`` with x1, y1
  the last foreground column and row (``[0, 0, 0, 0]`` for an empty mask).
  Polygon annotations are not compared: COCO gives them the polygon's own
  area and extent, not the rasterised mask's. Nor are a COCO dataset's crowd
  RLEs (``iscrowd: 1``): their area and box come from the annotation tool
  (in COCO val2014, boxes in the last-pixel convention and areas up to 13%
  larger than the mask).
- SA-1B: ``area`` is the pixel count (Segment Anything's ``area_from_rle``)
  and ``bbox`` is ``[x0, y0, x1 - x0, y1 - y0]``, one less in width and
  height than ``toBbox`` (``batched_mask_to_box`` then ``box_xyxy_to_xywh``
  in segment_anything/utils/amg.py; ``[0, 0, 0, 0]`` for an empty mask).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, cast

import numpy as np

from ._args import is_int, size_ok

__all__ = ["COCO", "COCO_RESULTS", "SA1B", "LAYOUTS", "AnnotationFormatError", "SA1BFormatError",
           "Document", "Record", "document", "records", "sa1b_image", "segmentation_kind",
           "to_rle", "expected_boxes", "is_int", "is_number", "is_box", "show"]

COCO, COCO_RESULTS, SA1B = "coco", "coco-results", "sa1b"
LAYOUTS = (COCO, COCO_RESULTS, SA1B)


class AnnotationFormatError(ValueError):
    """A JSON document that is none of the three layouts."""


class SA1BFormatError(ValueError):
    """A missing or malformed field in an SA-1B file.

    ``field`` names the field (``"bbox"``, ``"segmentation.counts"``, ...) and
    ``index`` the annotation's position in ``"annotations"`` (None for the
    image block or the top level).
    """

    def __init__(self, message: str, field: Optional[str] = None, index: Optional[int] = None):
        super().__init__(message)
        self.field = field
        self.index = index


# --- field types ----------------------------------------------------------------------


def show(v: Any) -> str:
    """``repr(v)`` cut to 60 characters, for messages about bad values."""
    s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."


def is_number(v: Any) -> bool:
    """An int or float, not a bool."""
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def is_box(v: Any) -> bool:
    """``[x, y, w, h]``: four finite numbers."""
    return isinstance(v, (list, tuple)) and len(v) == 4 and all(is_number(x) and math.isfinite(x) for x in v)


def sa1b_image(obj: Any) -> Dict[str, Any]:
    """The SA-1B field check of a whole file: ``obj`` must be an object with
    ``image`` (an object with non-negative integer ``image_id``, ``width`` and
    ``height``) and an ``annotations`` list. Returns ``obj["image"]``.

    Raises:
        SA1BFormatError naming the field.
    """
    if not isinstance(obj, dict):
        raise SA1BFormatError(f"sa1b: the file must hold a JSON object, got {type(obj).__name__}")
    for key in ("image", "annotations"):
        if key not in obj:
            raise SA1BFormatError(f"sa1b: missing top-level field {key!r}", key)
    img = obj["image"]
    if not isinstance(img, dict):
        raise SA1BFormatError(f"sa1b: image: field 'image' must be an object, got {show(img)}", "image")
    for key in ("image_id", "width", "height"):
        if key not in img:
            raise SA1BFormatError(f"sa1b: image: missing field {key!r}", f"image.{key}")
        v = img[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise SA1BFormatError(f"sa1b: image: field 'image.{key}' must be a non-negative integer, "
                                  f"got {show(v)}", f"image.{key}")
    if not size_ok(img["height"], img["width"]):
        raise SA1BFormatError(f"sa1b: image: size {img['height']}x{img['width']} has more than 2^32-1 "
                              f"pixels, the most a uint32 run can hold", "image.height")
    if not isinstance(obj["annotations"], list):
        raise SA1BFormatError(f"sa1b: image: field 'annotations' must be a list, got "
                              f"{show(obj['annotations'])}", "annotations")
    return img


# --- documents and records -----------------------------------------------------------


@dataclass
class Document:
    """One parsed annotation file (or one SA-1B member of a shard).

    ``image`` is the SA-1B ``"image"`` object (None for COCO layouts, whose
    annotations carry their own ``image_id``); ``images`` maps COCO image ids
    to their image objects (``"coco"`` only).
    """

    layout: str
    anns: List[Any]
    image: Optional[Dict[str, Any]] = None
    images: Optional[Dict[Any, Dict[str, Any]]] = None


def document(obj: Any) -> Document:
    """Recognise the layout of one parsed JSON document.

    A list is a COCO results file; an object with ``"image"`` and an
    ``"annotations"`` list is an SA-1B file (checked by :func:`sa1b_image`);
    another object with an ``"annotations"`` list is a COCO dataset.

    Raises:
        AnnotationFormatError (a ValueError) for anything else;
        SA1BFormatError for an SA-1B file with a bad ``image`` block.
    """
    if isinstance(obj, list):
        return Document(COCO_RESULTS, obj)
    if isinstance(obj, dict) and isinstance(obj.get("annotations"), list):
        if "image" in obj:
            return Document(SA1B, obj["annotations"], image=sa1b_image(obj))
        images = obj.get("images")
        table = {im.get("id"): im for im in images if isinstance(im, dict)} if isinstance(images, list) else {}
        return Document(COCO, obj["annotations"], images=table)
    raise AnnotationFormatError("not a COCO annotation/results file or SA-1B image file")


@dataclass(frozen=True)
class Record:
    """One annotation of a :class:`Document`.

    ``index`` is its position in the file's (or image's) annotation list;
    ``image_id`` is the SA-1B image's id or the COCO annotation's (as given,
    any type); ``height``/``width`` the image's size where the file says it
    (None otherwise); ``segmentation``, ``area``, ``bbox`` the fields as given
    (None when absent). ``ann`` is the raw entry: not always an object.
    """

    layout: str
    index: int
    image_id: Any
    image: Optional[Dict[str, Any]]
    height: Optional[int]
    width: Optional[int]
    segmentation: Any
    area: Any
    bbox: Any
    ann: Any


def records(doc: Document) -> Iterator[Record]:
    """Every annotation of ``doc`` as a :class:`Record`, in file order."""
    for i, ann in enumerate(doc.anns):
        if not isinstance(ann, dict):
            iid = doc.image.get("image_id") if doc.image is not None else None
            yield Record(doc.layout, i, iid, doc.image, None, None, None, None, None, ann)
            continue
        img: Optional[Dict[str, Any]]
        if doc.image is not None:
            iid, img = doc.image.get("image_id"), doc.image
        else:
            iid = ann.get("image_id")
            img = doc.images.get(iid) if doc.images and is_int(iid) else None
        h: Any = img.get("height") if img else None
        w: Any = img.get("width") if img else None
        yield Record(doc.layout, i, iid, img, int(h) if is_int(h) else None, int(w) if is_int(w) else None,
                     ann.get("segmentation"), ann.get("area"), ann.get("bbox"), ann)


# --- segmentations ------------------------------------------------------------------------


def segmentation_kind(seg: Any) -> Optional[str]:
    """``"polygon"`` (a list), ``"uncompressed"`` (an RLE object whose counts are
    a list), ``"compressed"`` (counts a string or bytes), or None for anything else."""
    if isinstance(seg, list):
        return "polygon"
    if isinstance(seg, dict):
        c = seg.get("counts")
        if isinstance(c, list):
            return "uncompressed"
        if isinstance(c, (str, bytes)):
            return "compressed"
    return None


def to_rle(seg: Any, height: Optional[int] = None, width: Optional[int] = None) -> Dict[str, Any]:
    """One segmentation as a compressed RLE, as pycocotools' ``COCO.annToRLE`` does.

    Polygons (they need ``height`` and ``width``) become one RLE each with
    ``frPyObjects`` and are merged (union); an empty polygon list gives an
    empty mask, where pycocotools raises. An uncompressed RLE goes through
    ``frPyObjects`` at its own size; a compressed one is returned as it is.
    The work is :mod:`fastrle.mask`'s, which matches pycocotools bit for bit.

    Raises:
        ValueError, TypeError (``RLEError`` among them) for a malformed
        segmentation, or polygons without a size.
    """
    from . import mask as fm

    kind = segmentation_kind(seg)
    try:
        if kind == "polygon":
            if height is None or width is None:
                raise ValueError("polygons need the image's height and width")
            if not seg:
                return cast(List[Dict[str, Any]], fm.encode(np.zeros((height, width, 1), np.uint8, order="F")))[0]
            return fm.merge(cast(List[Dict[str, Any]], fm.frPyObjects(seg, height, width)))
        if kind == "uncompressed":
            sz = seg.get("size")
            if not (isinstance(sz, (list, tuple)) and len(sz) == 2):
                raise ValueError(f"segmentation.size must be [h, w], got {show(sz)}")
            return cast(Dict[str, Any], fm.frPyObjects(seg, sz[0], sz[1]))
    except (IndexError, KeyError, OverflowError) as e:  # e.g. a polygon of fewer than 4 numbers
        raise ValueError(f"{kind}: {e}") from None
    if kind == "compressed":
        return seg
    raise TypeError(f"segmentation must be an RLE object or polygons, got {show(seg)}")


def expected_boxes(layout: str, boxes: np.ndarray) -> np.ndarray:
    """The ``bbox`` a file of ``layout`` gives for masks whose pycocotools
    ``toBbox`` is ``boxes`` ((N, 4) float64 ``[x, y, w, h]``); see the module
    docstring. A new array; ``boxes`` is not changed."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    out = np.array(boxes, dtype=np.float64, copy=True).reshape(-1, 4)
    if layout == SA1B:
        nonempty = out[:, 2] > 0  # toBbox gives width 0 only for an empty mask
        out[nonempty, 2:] -= 1.0
    return out
