"""``fastrle polygons``: COCO / SA-1B masks to polygon annotations.

SRC are SA-1B tar shards, SA-1B per-image JSONs, COCO annotation or results
files, directories of them or globs (``fastrle.jobs.sources``). Each mask
becomes its pixel outlines (:func:`fastrle.to_polygons`, ``format="coco"``)
with every hole joined to its outer ring by a zero-width cut, one ring per
connected component, so ``pycocotools.mask.frPyObjects`` gives the mask back
exactly (``--mode external`` fills the holes instead).

- ``--format coco`` (default): OUT is one JSON file, ``{"images": [...],
  "annotations": [...], "categories": [...]}``: each annotation as read, its
  ``segmentation`` replaced by the rings.
- ``--format yolo``: OUT is a directory with one ``<image stem>.txt`` per
  image, a line ``class x1 y1 x2 y2 ...`` per ring, coordinates divided by
  the image's width and height (pixel corners, 0..1). The class is the
  category's position in the sorted category ids (0 for SA-1B).

With ``--workers N`` / ``--scheduler ADDR`` (as ``fastrle index``) each
source is one Dask task (:func:`polygons_source`) and the parts are merged
here in source order: the same output, byte for byte, as without.

Exit 0: written; 1: a source or an annotation could not be read (one line
each on stderr, nothing written); 2: usage error, or Dask missing.
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple

from .. import annotations as an
from .. import fileio
from ..jobs.sources import Problem, expand_sources, read_source
from ..jobs.tasks import SourceResult
from ._jobs import add_cluster_options, run_job

__all__ = ["add_parser", "run", "convert", "convert_linked", "polygons_source", "PolygonsPart", "PolygonsError",
           "yolo_files"]


class PolygonsError(ValueError):
    """Bad input for ``fastrle polygons``: one line per problem, exit 1."""


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register ``polygons``."""
    p = sub.add_parser(
        "polygons", help="convert COCO/SA-1B masks into polygon annotations (COCO JSON or YOLO txt)",
        description="Convert the masks of SA-1B shards / JSONs and COCO annotation or results files "
                    "into polygons: each mask's pixel outlines, holes joined to their outer ring by "
                    "a zero-width cut (one ring per component; pycocotools rasterises them back to "
                    "the mask). --format coco: OUT is a JSON file; --format yolo: OUT is a "
                    "directory, one normalised .txt per image. With --workers or --scheduler, one "
                    "Dask task per source (needs pip install 'fastrle[dask]'), the same output. "
                    "Exit 0: written; 1: bad input (nothing written); 2: usage error, or Dask "
                    "missing.")
    p.add_argument("sources", nargs="+", metavar="SRC")
    p.add_argument("-o", "--out", required=True, metavar="OUT",
                   help="output JSON file (coco) or directory (yolo)")
    p.add_argument("--format", choices=("coco", "yolo"), default="coco", help="output format (default coco)")
    p.add_argument("--mode", choices=("ccomp", "external"), default="ccomp",
                   help="ccomp (default): keep holes, bridged; external: outer rings only, holes filled")
    p.add_argument("--approx", choices=("none", "simple"), default="simple",
                   help="simple (default): only the corners where the outline turns; none: every corner")
    p.add_argument("--min-area", type=float, default=0.0, metavar="A",
                   help="drop rings of polygon area below A pixels (default 0: keep all)")
    add_cluster_options(p)
    return p


def _image_info(doc: Any, rec: Any) -> Tuple[Any, Optional[int], Optional[int], str]:
    """(image id, height, width, file stem) of a record."""
    img = rec.image or {}
    name = img.get("file_name") if isinstance(img, dict) else None
    stem = os.path.splitext(os.path.basename(name))[0] if isinstance(name, str) and name else str(rec.image_id)
    return rec.image_id, rec.height, rec.width, stem


@dataclass
class PolygonsPart(SourceResult):
    """What :func:`polygons_source` made of one source: ``image_infos`` as
    (key, image object) in first-seen order, the ``annotations`` with their
    rings and ``image_keys``, each annotation's image key (SA-1B image ids
    are not unique across files, so an annotation's image is found by key,
    not by id), the COCO ``categories`` by id (None for other sources) and
    the ``problems`` (kind ``"source"`` or ``"malformed"``)."""

    image_infos: List[Tuple[Any, Dict[str, Any]]] = field(default_factory=list)
    annotations: List[Dict[str, Any]] = field(default_factory=list)
    image_keys: List[Any] = field(default_factory=list)
    categories: Optional[Dict[Any, Any]] = None


def polygons_source(path: str, mode: str = "ccomp", approx: str = "simple", min_area: float = 0.0) -> PolygonsPart:
    """The polygons of one source (an SA-1B shard or a JSON file): the work
    of one task, in this process or on a Dask worker. Never raises for bad
    data: what cannot be read becomes a problem of the returned part."""
    from ..geometry import to_polygons

    part = PolygonsPart(path, "checked")
    images: Dict[Any, Dict[str, Any]] = {}
    try:
        docs = list(read_source(path, part.problems))
    except OSError as e:
        part.status = "unreadable"
        part.problems.append(Problem("source", None, None, f"cannot read: {e.strerror or e}"))
        return part
    for doc in docs:
        rles: List[Any] = []
        keep: List[Any] = []
        for rec in an.records(doc):
            if not isinstance(rec.ann, dict):
                part.problems.append(Problem("malformed", rec.image_id, rec.index, "not an object"))
                continue
            try:
                rle = an.to_rle(rec.segmentation, rec.height, rec.width)
            except (TypeError, ValueError) as e:
                part.problems.append(Problem("malformed", rec.image_id, rec.index, str(e)))
                continue
            rles.append(rle)
            keep.append(rec)
        try:
            polys = to_polygons(rles, mode=mode, approx=approx, min_area=min_area, bridge_holes=mode == "ccomp")
            assert isinstance(polys, list)
        except ValueError as e:  # RLEError among them: names the mask
            i = getattr(e, "index", None)
            bad = keep[i] if isinstance(i, int) and 0 <= i < len(keep) else None
            detail = str(getattr(e, "detail", e))
            part.problems.append(Problem("malformed", bad.image_id, bad.index, detail) if bad else
                                 Problem("malformed", None, None, f"annotations: {detail}"))
            continue
        part.masks += len(polys)
        for rec, rle, poly in zip(keep, rles, polys):
            iid, h, w, stem = _image_info(doc, rec)
            if h is None or w is None:
                h, w = int(rle["size"][0]), int(rle["size"][1])
            key = (os.path.basename(path), iid) if doc.layout == an.SA1B else iid
            if key not in images:
                info = dict(rec.image) if isinstance(rec.image, dict) else {"id": iid}
                info.setdefault("id", iid)
                info.setdefault("height", h)
                info.setdefault("width", w)
                info.setdefault("file_name", stem)
                images[key] = info
            a = {k: v for k, v in rec.ann.items() if k != "segmentation"}
            a.setdefault("image_id", iid)
            a["segmentation"] = poly.rings
            part.annotations.append(a)
            part.image_keys.append(key)
        if doc.layout == an.COCO and doc.images is not None:
            for im in doc.images.values():
                images.setdefault(im.get("id"), dict(im))
    if any(d.layout == an.COCO for d in docs):
        part.categories = _categories(path) or {}
    part.image_infos = list(images.items())
    part.images = len(images)
    return part


def _line(path: str, p: Problem) -> str:
    """A problem as the line printed for it."""
    name = os.path.basename(path)
    if p.image_id is None and p.index is None:
        return f"{name}: {p.reason}"
    return f"{name}: image {p.image_id} annotation {p.index}: {p.reason}"


def convert(sources: List[str], *, mode: str = "ccomp", approx: str = "simple", min_area: float = 0.0,
            client: Any = None, scheduler: Optional[str] = None, workers: Optional[int] = None,
            progress: Optional[bool] = None) -> Dict[str, Any]:
    """The polygons of every mask of ``sources``, as a COCO-style dict
    (``images``, ``annotations``, ``categories``); each image also gets
    ``height``/``width`` where known. Raises :class:`PolygonsError` naming
    every source or annotation that could not be read.

    Two SA-1B files may give two images one id; :func:`yolo_files` keeps
    them apart only with :func:`convert_linked`'s links.

    With ``client``, ``scheduler`` or ``workers`` each source is one task on
    Dask (:func:`fastrle.jobs.api.map_sources`, with its progress line;
    ``progress`` as there); the result is the same as in this process: the
    parts are merged here, in source order."""
    return convert_linked(sources, mode=mode, approx=approx, min_area=min_area, client=client,
                          scheduler=scheduler, workers=workers, progress=progress)[0]


def convert_linked(sources: List[str], *, mode: str = "ccomp", approx: str = "simple", min_area: float = 0.0,
                   client: Any = None, scheduler: Optional[str] = None, workers: Optional[int] = None,
                   progress: Optional[bool] = None) -> Tuple[Dict[str, Any], List[int]]:
    """:func:`convert`'s result and, for each of its annotations, the
    position of its image in ``images`` (for :func:`yolo_files`)."""
    items = expand_sources(sources)
    kw = dict(mode=mode, approx=approx, min_area=min_area)
    parts: List[Any]
    if client is None and scheduler is None and workers is None:
        parts = [polygons_source(path, mode, approx, min_area) for path in items]
    else:
        from ..jobs.api import map_sources, require_dask

        require_dask("fastrle polygons on a cluster")
        parts, _, _ = map_sources(polygons_source, items, kw, what="polygons", client=client,
                                  scheduler=scheduler, workers=workers, progress=progress)
    problems: List[str] = []
    images: Dict[Any, Dict[str, Any]] = {}
    where: Dict[Any, int] = {}  # image key -> its position in images
    out_anns: List[Dict[str, Any]] = []
    links: List[int] = []
    categories: Dict[Any, Any] = {}
    for part in parts:  # a failed Dask task is a plain SourceResult with its problem
        problems += [_line(part.source, p) for p in part.problems]
        if isinstance(part, PolygonsPart):
            for key, info in part.image_infos:
                if key not in images:
                    where[key] = len(images)
                    images[key] = info
            out_anns += part.annotations
            links += [where[k] for k in part.image_keys]
            categories.update(part.categories or {})
    if problems:
        raise PolygonsError("\n".join(problems))
    coco = {"images": list(images.values()), "annotations": out_anns,
            "categories": [categories[k] for k in _sorted_ids(categories)]}
    return coco, links


def _sorted_ids(ids: Any) -> List[Any]:
    """Ids in numeric order (string order when they are not all numbers)."""
    try:
        return sorted(ids)
    except TypeError:
        return sorted(ids, key=str)


def _categories(path: str) -> Optional[Dict[Any, Any]]:
    """A COCO dataset file's categories by id (None for other sources)."""
    if not path.lower().endswith(".json"):
        return None
    try:
        obj = fileio.read_json(path)
    except (OSError, ValueError):
        return None
    cats = obj.get("categories") if isinstance(obj, dict) else None
    if not isinstance(cats, list):
        return None
    return {c["id"]: c for c in cats if isinstance(c, dict) and "id" in c}


def yolo_files(coco: Dict[str, Any], links: Optional[List[int]] = None) -> Dict[str, str]:
    """File name -> text of the YOLO segmentation labels of a :func:`convert`
    result. ``links`` (:func:`convert_linked`): each annotation's position
    in ``images``; without them an annotation goes to the last image of its
    id (images that share an id share a file)."""
    ids = _sorted_ids({a.get("category_id", 0) for a in coco["annotations"]} | {c["id"] for c in coco["categories"]})
    cls = {c: i for i, c in enumerate(ids)}
    images = coco["images"]
    if links is None:
        by_id = {im["id"]: k for k, im in enumerate(images)}
        links = [by_id[a["image_id"]] for a in coco["annotations"]]
    by_image: List[List[str]] = [[] for _ in images]
    for a, at in zip(coco["annotations"], links):
        h, w = images[at]["height"], images[at]["width"]
        c = cls[a.get("category_id", 0)]
        for ring in a["segmentation"]:
            xy = [(v + 0.5) / (w if k % 2 == 0 else h) for k, v in enumerate(ring)]
            by_image[at].append(f"{c} " + " ".join(f"{v:.6g}" for v in xy))
    out: Dict[str, str] = {}
    for im, lines in zip(images, by_image):
        stem = os.path.splitext(os.path.basename(str(im["file_name"])))[0] or str(im["id"])
        name = stem + ".txt"
        out[name] = out.get(name, "") + "".join(line + "\n" for line in lines)
    return out


def run(args: argparse.Namespace) -> int:
    """Run ``polygons``."""
    if args.min_area < 0:
        print("fastrle polygons: --min-area must be >= 0", file=sys.stderr)
        return 2
    if args.format == "yolo" and os.path.exists(args.out) and not os.path.isdir(args.out):
        print(f"fastrle polygons: {args.out}: exists and is not a directory (--format yolo writes one "
              ".txt per image into a directory)", file=sys.stderr)
        return 2
    return int(run_job(lambda: _run(args)))  # no Dask, an empty glob, no scheduler: exit 2


def _run(args: argparse.Namespace) -> int:
    try:
        coco, links = convert_linked(args.sources, mode=args.mode, approx=args.approx, min_area=args.min_area,
                                     scheduler=args.scheduler, workers=args.workers)
    except PolygonsError as e:
        print(str(e), file=sys.stderr)
        return 1
    if args.format == "coco":
        data = fileio.dumps(coco)

        def write(tmp: str) -> None:
            with open(tmp, "wb") as f:
                f.write(data)

        fileio.atomic_write(args.out, write)
        print(f"{len(coco['annotations'])} annotations of {len(coco['images'])} images -> {args.out}")
        return 0
    files = yolo_files(coco, links)
    os.makedirs(args.out, exist_ok=True)
    for name, text in files.items():
        def write_txt(tmp: str, text: str = text) -> None:
            with open(tmp, "w") as f:
                f.write(text)

        fileio.atomic_write(os.path.join(args.out, name), write_txt)
    print(f"{len(coco['annotations'])} annotations of {len(files)} images -> {args.out}/")
    return 0
