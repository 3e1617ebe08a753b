"""Planted bugs, second set, for issue 24's target "a fresh set of planted bugs
in these areas, written by someone who has not read the new tests, is caught
at >= 90%".

Written from the source alone (src/, csrc/, README.md, ARCHITECTURE.md, docs/),
before reading anything under tests/ or scripts/mutate.py's mutant list, and
chosen to differ from the first set (scripts/planted.py's BUGS). Bugs whose
description starts "[near the issue's list]" hit a scenario issue 24 names
among its survivors (by another edit): the report gives the figure with and
without them. The runner is scripts/planted.py's, unchanged: this
file swaps in its own list of bugs, a few more area words (new test files are
matched by name only) and its own scratch folder and results file.

    python scripts/planted_set2.py --list
    python scripts/planted_set2.py --check            # every old text found exactly once
    python scripts/planted_set2.py [--only ID,...] [--area A] [--json OUT] [--reserve]
    python scripts/planted_set2.py --summary [RESULTS.json]   # per-area Markdown table

Every option of scripts/planted.py works here; the defaults differ only in
--scratch (/tmp/planted24-set2-scratch) and --json (/tmp/planted24-set2-results.json).
"""
from __future__ import annotations

import ast
import glob
import os
import re
import sys
from typing import List

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import planted  # scripts/planted.py: the runner
from planted import Bug

S = "src/fastrle/"

# Areas of this set: the first set's, plus "inputs" (fastrle.mask /
# fastrle.annotations / fastrle.api on inputs the generators never make).
AREA_WORDS = {
    "cli": ["cli", "show"],
    "jobs": ["jobs", "cli", "validate"],
    "sa1b": ["sa1b"],
    "viz": ["viz", "show", "overlay"],
    "compat": ["compat", "patch"],
    "transforms": ["transform", "args", "roi_align", "nearest"],
    "geometry": ["polygons", "geometry", "contour", "components", "region"],
    "cocoeval": ["cocoeval", "eval"],
    "inputs": ["annotations", "generator", "mask_dropin", "invalid"],
}

BUGS: List[Bug] = [
    # ---------------------------------------------------------------- CLI: fastrle show
    Bug("s2-cli-show-jpeg-ext", "cli", S + "cli/show.py",
        'FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}',
        'FORMATS = {".png": "PNG", ".jpg": "JPEG"}',
        "fastrle show -o OUT.jpeg is rejected (exit 1) although the help names .jpeg"),
    Bug("s2-cli-show-grid-image-and", "cli", S + "cli/show.py",
        "if args.image is not None or args.image_id is not None:",
        "if args.image is not None and args.image_id is not None:",
        "--grid with only --image (or only --image-id) is accepted and the option silently ignored"),
    Bug("s2-cli-show-sheet-cols", "cli", S + "cli/show.py",
        "cols = int(math.ceil(math.sqrt(len(pics))))",
        "cols = max(1, int(math.sqrt(len(pics))))",
        "contact sheet of 2 or 3 images laid out in one column instead of two"),
    Bug("s2-cli-show-coco-canvas-swap", "cli", S + "cli/show.py",
        "np.zeros((h, w, 3), np.uint8)",
        "np.zeros((w, h, 3), np.uint8)",
        "COCO file without --image: the black canvas is (w, h), so a non-square image fails"),
    Bug("s2-cli-show-results-no-image-size", "cli", S + "cli/show.py",
        "        if size is None:\n            size = _image_size(args.image)\n",
        "",
        "results file with only polygons: --image is not used for the size (exit 1 although it was given)"),
    Bug("s2-cli-show-note-inverted", "cli", S + "cli/show.py",
        "blank = [label for image, _, label in items if image is None]",
        "blank = [label for image, _, label in items if image is not None]",
        "the 'no image found ... black canvas' note names the images that were found"),
    Bug("s2-cli-runjob-no-oserror", "cli", S + "cli/_jobs.py",
        "except (ImportError, ValueError, OSError) as e:",
        "except (ImportError, ValueError) as e:",
        "an unreachable scheduler (OSError) crashes index/validate with a traceback instead of exit 2"),
    Bug("s2-cli-validate-report-inprocess", "cli", S + "cli/validate.py",
        "if args.scheduler or args.workers or args.report:",
        "if args.scheduler or args.workers:",
        "fastrle validate FILE --report R runs in process and never writes R"),
    Bug("s2-fileio-temp-left", "cli", S + "fileio.py",
        "            os.remove(tmp)\n",
        "            os.path.exists(tmp)\n",
        "[near the issue's list] atomic_write leaves its .part file behind when the write fails"),
    # ---------------------------------------------------------------- CLI: fastrle polygons
    Bug("s2-cli-poly-yolo-notdir-exit1", "cli", S + "cli/polygons.py",
        '".txt per image into a directory)", file=sys.stderr)\n        return 2',
        '".txt per image into a directory)", file=sys.stderr)\n        return 1',
        "--format yolo onto an existing file exits 1 (bad input) instead of 2 (usage error)"),
    Bug("s2-cli-poly-ids-string-order", "cli", S + "cli/polygons.py",
        "        return sorted(ids)\n    except TypeError:",
        "        return sorted(ids, key=str)\n    except TypeError:",
        "categories (and YOLO classes) ordered as strings: 10 before 2"),
    Bug("s2-cli-poly-yolo-same-stem", "cli", S + "cli/polygons.py",
        'out[name] = out.get(name, "") + "".join(line + "\\n" for line in lines)',
        'out[name] = "".join(line + "\\n" for line in lines)',
        "two images with one stem: the second image's labels replace the first's in the .txt"),
    Bug("s2-cli-poly-images-without-anns", "cli", S + "cli/polygons.py",
        "        if doc.layout == an.COCO and doc.images is not None:\n"
        "            for im in doc.images.values():\n"
        "                images.setdefault(im.get(\"id\"), dict(im))\n",
        "",
        "COCO images without annotations are left out of the output's images"),
    Bug("s2-cli-poly-results-size-swap", "cli", S + "cli/polygons.py",
        'h, w = int(rle["size"][0]), int(rle["size"][1])',
        'w, h = int(rle["size"][0]), int(rle["size"][1])',
        "results file (no image sizes): height and width of the output image swapped (YOLO scaling)"),
    # ---------------------------------------------------------------- jobs
    Bug("s2-jobs-skip-loses-problems", "jobs", S + "jobs/tasks.py",
        "                if os.path.exists(errs):\n"
        "                    res.problems = _problems_from_table(pq.read_table(errs))\n",
        "",
        "a resumed (skipped) source reports none of its recorded problems"),
    Bug("s2-jobs-skip-other-columns", "jobs", S + "jobs/tasks.py",
        "if meta.schema.to_arrow_schema().remove_metadata().equals(schema):",
        "if meta.num_rows >= 0:",
        "a part written without --features is skipped when --features is asked for"),
    Bug("s2-jobs-problem-rpartition", "jobs", S + "jobs/tasks.py",
        'kind, _, why = reason.partition(": ")',
        'kind, _, why = reason.rpartition(": ")',
        "problems read back from _errors/ split at the last ': ': wrong kind for a skipped source"),
    Bug("s2-jobs-polygon-hw-swap", "jobs", S + "jobs/tasks.py",
        "phw = (rec.height, rec.width)",
        "phw = (rec.width, rec.height)",
        "index rows of polygon annotations: height and width (and the counts) swapped"),
    Bug("s2-jobs-bad-id-kept", "jobs", S + "jobs/tasks.py",
        "            bad(f\"field 'id' must be an integer, got {_show(v)}\")\n            v = None\n",
        "            bad(f\"field 'id' must be an integer, got {_show(v)}\")\n",
        "a non-integer annotation id is reported but kept: the part cannot be written (task failed)"),
    Bug("s2-jobs-centroid-xy-swap", "jobs", S + "jobs/tasks.py",
        "cx[rows[k]], cy[rows[k]] = x, y",
        "cx[rows[k]], cy[rows[k]] = y, x",
        "--features: centroid_x and centroid_y swapped"),
    Bug("s2-jobs-masks-equal-tail", "jobs", S + "jobs/tasks.py",
        "    return bool(np.array_equal(x[:n].view(np.uint64), y[:n].view(np.uint64))\n"
        "                and np.array_equal(x[n:], y[n:]))\n",
        "    return bool(np.array_equal(x[:n].view(np.uint64), y[:n].view(np.uint64)))\n",
        "validate: masks that differ only in the last h*w % 8 bytes compare equal"),
    Bug("s2-jobs-both-reject-counted-twice", "jobs", S + "jobs/tasks.py",
        "                        sink.rejected_by_both = before\n",
        "",
        "an uncompressed RLE both libraries reject is reported twice (malformed + 'rejected by both')"),
    Bug("s2-jobs-dir-plain-tar-only", "jobs", S + "jobs/sources.py",
        'if n.lower().endswith((".json",) + SHARD_SUFFIXES)',
        'if n.lower().endswith((".json", ".tar"))',
        "a directory's compressed shards (.tar.gz, .tgz ...) are not taken"),
    Bug("s2-jobs-empty-glob-silent", "jobs", S + "jobs/sources.py",
        '            if not found:\n                raise ValueError(f"{a}: matches no file")\n',
        "",
        "a glob that matches nothing is silently dropped (exit 0 with no source) instead of a usage error"),
    Bug("s2-jobs-missing-shard-written", "jobs", S + "jobs/sources.py",
        '    open(path, "rb").close()  # unreadable: OSError for the caller, before any row\n',
        "",
        "[near the issue's list] a missing or unreadable shard gets an empty part (exit 0) "
        "instead of 'unreadable' (exit 1)"),
    Bug("s2-jobs-read-index-no-promote", "jobs", S + "jobs/api.py",
        'promote_options="default"',
        'promote_options="none"',
        "read_index fails on an index whose parts differ in the feature columns"),
    Bug("s2-jobs-sa1b-box-width-only", "jobs", S + "annotations.py",
        "    out[nonempty, 2:] -= 1.0\n",
        "    out[nonempty, 2] -= 1.0\n",
        "SA-1B bbox convention applied to the width only: every SA-1B bbox is a mismatch in h"),
    Bug("s2-jobs-sa1b-empty-box", "jobs", S + "annotations.py",
        "nonempty = out[:, 2] > 0",
        "nonempty = out[:, 2] >= 0",
        "SA-1B: an empty mask's bbox [0, 0, 0, 0] is a mismatch (expected [0, 0, -1, -1])"),
    # ---------------------------------------------------------------- SA-1B utilities
    Bug("s2-sa1b-select-crop-boxes", "sa1b", S + "sa1b/annotation.py",
        "self.areas[idx], self.bboxes[idx], self.crop_boxes[idx],",
        "self.areas[idx], self.bboxes[idx], self.bboxes[idx],",
        "select(): crop_boxes of the result are the bboxes (copy-paste)"),
    Bug("s2-sa1b-order-key-unindexed", "sa1b", S + "sa1b/annotation.py",
        '"area": self.areas}[sort_by][idx]',
        '"area": self.areas}[sort_by]',
        "order(indices=..., top_k=...): ranks by the scores of the first masks, not of the candidates"),
    Bug("s2-sa1b-decode-error-position", "sa1b", S + "sa1b/annotation.py",
        "k = int(idx[e.index])",
        "k = int(e.index)",
        "a bad mask decoded with indices/top_k is named by its position in the batch, not in the file"),
    Bug("s2-sa1b-size-width-unchecked", "sa1b", S + "sa1b/annotation.py",
        "len(sz) != 2 or sz[0] != h or sz[1] != w:",
        "len(sz) != 2 or sz[0] != h:",
        "a segmentation whose width differs from the image's is not reported"),
    Bug("s2-sa1b-cache-exact-budget", "sa1b", S + "sa1b/decoder.py",
        "if size <= self.cache_bytes:",
        "if size < self.cache_bytes:",
        "a result of exactly the cache budget is not cached"),
    Bug("s2-sa1b-cache-writable", "sa1b", S + "sa1b/decoder.py",
        "res.masks.flags.writeable = False  # shared by later hits",
        "pass  # shared by later hits",
        "cached numpy results stay writable: a caller can corrupt later hits"),
    Bug("s2-sa1b-decoder-mode-dropped", "sa1b", S + "sa1b/decoder.py",
        '{"size": self.size, "mode": self.mode}',
        '{"size": self.size}',
        "SA1BMaskDecoder(size=..., mode='area' or 'nearest-exact') decodes with 'nearest'"),
    Bug("s2-sa1b-resize-cols-mode", "sa1b", S + "sa1b/dataset.py",
        'cols = nearest_map(w, ow, "nearest-exact", other_size=oh)',
        'cols = nearest_map(w, ow, "nearest", other_size=oh)',
        "resize_nearest: columns by torch's 'nearest' instead of 'nearest-exact'"),
    Bug("s2-sa1b-ious-not-subset", "sa1b", S + "sa1b/dataset.py",
        '"predicted_ious": ann.predicted_ious[idx]',
        '"predicted_ious": ann.predicted_ious',
        "dataset item with max_masks: predicted_ious of every mask, not of the kept ones"),
    Bug("s2-sa1b-truncated-at-boundary", "sa1b", S + "sa1b/shard.py",
        "if isinstance(stop, tarfile.EOFHeaderError):  # type: ignore[attr-defined]",
        "if isinstance(stop, (tarfile.EOFHeaderError, tarfile.EmptyHeaderError)):  # type: ignore[attr-defined]",
        "a shard cut exactly between members (no end-of-archive block) passes as complete"),
    Bug("s2-sa1b-stream-jpeg-ext", "sa1b", S + "sa1b/shard.py",
        '            if ext not in (".json", ".jpg", ".jpeg"):\n                continue\n',
        '            if ext not in (".json", ".jpg"):\n                continue\n',
        "iter_shard ignores .jpeg images"),
    Bug("s2-sa1b-jpeg-carried-over", "sa1b", S + "sa1b/shard.py",
        "stem, jpeg, ann = s, None, None",
        "stem, ann = s, None",
        "an image without JSON gives its JPEG to the next stem's JSON that has none"),
    Bug("s2-sa1b-no-seek-back", "sa1b", S + "sa1b/shard.py",
        "            except tarfile.ReadError:  # compressed or not a tar: let streaming mode decide\n"
        "                f.seek(start)\n",
        "            except tarfile.ReadError:  # compressed or not a tar: let streaming mode decide\n"
        "                pass\n",
        "compressed shards fail when read without images (iter_json_members, index/validate jobs)"),
    # ---------------------------------------------------------------- overlay policy
    Bug("s2-viz-topk-zero", "viz", S + "viz/overlay.py",
        "or top_k < 0:",
        "or top_k < 1:",
        "overlay(top_k=0) raises instead of drawing no mask"),
    Bug("s2-viz-alpha-one", "viz", S + "viz/overlay.py",
        "or not 0.0 <= alpha <= 1.0:",
        "or not 0.0 <= alpha < 1.0:",
        "overlay(alpha=1.0) (opaque fill) is rejected"),
    Bug("s2-viz-canvas-not-cleared", "viz", S + "viz/overlay.py",
        "    if img is None:\n        out.fill(0)\n",
        "    if img is None:\n        pass\n",
        "image=None draws on whatever out (or np.empty) held, not on black"),
    Bug("s2-viz-no-masks-no-image", "viz", S + "viz/overlay.py",
        "        if src.n == 0 and size is None:\n"
        '            raise ValueError("no masks and no image: the canvas size is unknown")\n',
        "",
        "overlay(None, []) raises IndexError instead of the ValueError saying why"),
    Bug("s2-viz-palette-sector1", "viz", S + "viz/palette.py",
        "np.stack([q, val, p], 1)",
        "np.stack([val, q, p], 1)",
        "palette: hues in the second sixth (yellow-green) get R and G swapped"),
    Bug("s2-viz-load-no-rgb", "viz", S + "viz/image.py",
        'return np.asarray(im.convert("RGB")).copy()',
        "return np.asarray(im).copy()",
        "a grayscale or RGBA image file is not converted to RGB"),
    Bug("s2-viz-contour-row-cw", "viz", "csrc/rle_render.c",
        "if (r >= (int64_t)cw && r + (int64_t)cw < nrows) {",
        "if (r > (int64_t)cw && r + (int64_t)cw < nrows) {",
        "contour: row cw of a mask (counted from its first row) is drawn whole, as if on the border"),
    Bug("s2-viz-blend-rounding", "viz", "csrc/rle_render.c",
        "ms->add[p] = (uint16_t)(c[p % 3] * a + 127);",
        "ms->add[p] = (uint16_t)(c[p % 3] * a + 128);",
        "fill rounds with +128 instead of +127: some pixels one too bright"),
    # ---------------------------------------------------------------- compat / patch
    Bug("s2-compat-loadres-not-patched", "compat", S + "compat.py",
        "if mod.__name__ == _COCO_MODULE and hasattr(getattr(mod, _COCO_CLASS, None), _LOADRES):",
        "if mod.__name__ == _EVAL_MODULE and hasattr(getattr(mod, _COCO_CLASS, None), _LOADRES):",
        "COCO.loadRes is not patched"),
    Bug("s2-compat-cocoeval-not-patched", "compat", S + "compat.py",
        "if mod.__name__ == _EVAL_MODULE and hasattr(mod, _EVAL_NAME):",
        "if mod.__name__ == _COCO_MODULE and hasattr(mod, _EVAL_NAME):",
        "pycocotools.cocoeval.COCOeval is not replaced"),
    Bug("s2-compat-restore-stays-live", "compat", S + "compat.py",
        "unpatch_pycocotools()\n                self._live = False\n                return\n",
        "unpatch_pycocotools()\n                return\n",
        "restore() after unpatch_pycocotools(): the patch object still says active"),
    Bug("s2-compat-patched-always", "compat", S + "compat.py",
        "return _active > 0",
        "return _active >= 0",
        "pycocotools_patched() is True when nothing is patched"),
    Bug("s2-compat-undo-one", "compat", S + "compat.py",
        "    while _saved:\n",
        "    if _saved:\n",
        "restoring puts back only the last saved name: the other functions stay fastrle's"),
    # ---------------------------------------------------------------- transforms' Python layer
    Bug("s2-tr-zeroed-fresh-array", "transforms", S + "transforms.py",
        "        zeroed = False  # a promise about out: nothing to promise about a fresh array\n",
        "",
        "[near the issue's list] decode(size=..., zeroed=True) without out: "
        "background pixels of np.empty stay garbage"),
    Bug("s2-tr-bool-out-rejected", "transforms", S + "transforms.py",
        "dtypes = MASK_DTYPES if np.dtype(dtype) == np.uint8 else (dtype,)",
        "dtypes = (dtype,)",
        "a bool out buffer is rejected by the transformed decode"),
    Bug("s2-tr-box-f32-overflow", "transforms", S + "transforms.py",
        "    if not np.isfinite(b32).all():\n",
        "    if False:\n",
        "roi_align: a box beyond float32's range is not rejected"),
    Bug("s2-tr-grid-sr-zero", "transforms", S + "transforms.py",
        "if sampling_ratio > 0 or not len(b):",
        "if sampling_ratio >= 0 or not len(b):",
        "[near the issue's list] roi_align(sampling_ratio=0) (adaptive, like -1) skips the grid-size check"),
    Bug("s2-tr-scale-f32", "transforms", S + "_args.py",  # the rule moved from transforms.py (real_arg)
        "if float32 and finite and abs(x) >= FLOAT32_INF_FROM:",
        "if float32 and finite and math.isinf(x):",
        "roi_align(spatial_scale=1e39): infinite in float32 but accepted"),
    Bug("s2-tr-flip-hv-rows", "transforms", S + "_args.py",
        'flip is not None and "v" in flip',
        'flip == "v"',
        "flip='hv' flips the columns only"),
    Bug("s2-tr-packed-area", "transforms", S + "_args.py",
        '    if packed and mode == "area":\n',
        '    if packed and mode == "nearest-area":\n',
        "packed=True with mode='area' is not rejected"),
    Bug("s2-tr-resize-empty-and", "transforms", S + "_args.py",
        "if size is not None and n and (h == 0 or w == 0):",
        "if size is not None and n and (h == 0 and w == 0):",
        "resizing 0xW masks is not rejected"),
    Bug("s2-tr-dtype-rule-signed", "transforms", S + "_args.py",
        '    if dt.kind in "iu":\n        return "nonzero"',
        '    if dt.kind in "u":\n        return "nonzero"',
        "encode of int16/int32/int64 masks raises TypeError (documented: nonzero)"),
    # ---------------------------------------------------------------- geometry
    Bug("s2-geo-first-child-last", "geometry", S + "geometry/polygons.py",
        "        elif p >= 0:\n            h[p, 2] = i\n",
        "        if p >= 0:\n            h[p, 2] = i\n",
        "recomputed hierarchy (min_area): 'first child' is the last hole"),
    Bug("s2-geo-bridge-open-cut", "geometry", S + "geometry/polygons.py",
        "pieces += [outer[start:j + 1], holes[k], holes[k][:1]]",
        "pieces += [outer[start:j + 1], holes[k]]",
        "bridged ring does not close the hole back at its start: the cut has width"),
    Bug("s2-geo-min-area-strict", "geometry", S + "geometry/polygons.py",
        "keep = np.array([ring_area(r) >= min_area for r in rings])",
        "keep = np.array([ring_area(r) > min_area for r in rings])",
        "min_area drops rings of exactly min_area"),
    Bug("s2-geo-min-area-nan", "geometry", S + "geometry/polygons.py",
        "or not min_area >= 0:",
        "or min_area < 0:",
        "min_area=nan accepted"),
    Bug("s2-geo-bridge-external", "geometry", S + "geometry/polygons.py",
        '    if bridge_holes and mode != "ccomp":\n',
        '    if bridge_holes and mode == "list":\n',
        "bridge_holes=True with mode='external' is not rejected"),
    Bug("s2-geo-rsr-unchanged-copy", "geometry", S + "geometry/regions.py",
        'out.append(r if s is None else {"size": [h, w], "counts": s})',
        'out.append(dict(r) if s is None else {"size": [h, w], "counts": s})',
        "remove_small_regions: an unchanged mask comes back as a copy, not the input dict"),
    Bug("s2-geo-areas-background", "geometry", S + "geometry/regions.py",
        "return self.stats[1:, 4].astype(np.int64)",
        "return self.stats[:, 4].astype(np.int64)",
        "Components.areas includes the background"),
    # ---------------------------------------------------------------- cocoeval glue
    Bug("s2-ce-gc-reenabled", "cocoeval", S + "cocoeval.py",
        "if _gc_pauses == 0 and _gc_was_enabled:",
        "if _gc_pauses == 0:",
        "evaluate/loadRes turn the garbage collector on when the caller had it off"),
    Bug("s2-ce-tomask-first-polygon", "cocoeval", S + "cocoeval.py",
        "rles[0] if type(rles) is list and len(rles) == 1 else",
        "rles[0] if type(rles) is list else",
        "a ground truth of several polygons keeps only the first one"),
    Bug("s2-ce-tomask-4-numbers", "cocoeval", S + "cocoeval.py",
        "_mask.fr_polys(segm, h, w) if len(segm[0]) > 4 else None",
        "_mask.fr_polys(segm, h, w) if len(segm[0]) >= 4 else None",
        "a 4-number first polygon is drawn as a polygon (pycocotools: a box)"),
    Bug("s2-ce-ious-c-order", "cocoeval", S + "cocoeval.py",
        '.reshape((D, G), order="F")',
        '.reshape((D, G), order="C")',
        "COCOeval.ious matrices filled in the wrong order"),
    Bug("s2-ce-area-hi-inclusive", "cocoeval", S + "cocoeval.py",
        "| (ga < lo) | (ga > hi)).astype(np.int64)",
        "| (ga < lo) | (ga >= hi)).astype(np.int64)",
        "evalImgs: a gt of area exactly the range's upper bound is ignored"),
    Bug("s2-ce-maxdets-unsorted", "cocoeval", S + "cocoeval.py",
        "p.maxDets = sorted(p.maxDets)",
        "p.maxDets = list(p.maxDets)",
        "maxDets given unsorted: the largest is not the one evaluated"),
    Bug("s2-ce-evalimgs-assigned-ignored", "cocoeval", S + "cocoeval.py",
        "self._evalImgs_own = value is _LAZY",
        "self._evalImgs_own = True",
        "accumulate ignores an evalImgs list assigned from outside (torchvision's merge)"),
    # ---------------------------------------------------------------- inputs the generators never make
    Bug("s2-in-frpy-5-numbers", "inputs", S + "mask.py",
        "elif type(pyobj) is list and len(pyobj[0]) > 4:",
        "elif type(pyobj) is list and len(pyobj[0]) > 5:",
        "[near the issue's list] frPyObjects([[5 numbers]]) raises TypeError (pycocotools: a polygon)"),
    Bug("s2-in-encode3-nonzero", "inputs", S + "mask.py",
        "counts = _core.encode_batch(a, True, False, resolve_threads(None, h * w * n), False)",
        "counts = _core.encode_batch(a, True, True, resolve_threads(None, h * w * n), False)",
        "[near the issue's list] mask.encode of large non-binary masks: values 1 and 2 merged "
        "(pycocotools: a run per value) "
        "(only the general path, arrays of >= 8 MiB)"),
    Bug("s2-in-api-encode-bytes", "inputs", S + "api.py",
        "counts = encode_counts(arr, nonzero=True, as_str=True, threads=threads)",
        "counts = encode_counts(arr, nonzero=False, as_str=True, threads=threads)",
        "[near the issue's list] fastrle.encode of a uint8 mask with values > 1: runs split at each value change"),
    Bug("s2-in-empty-polygons-swap", "inputs", S + "annotations.py",
        'fm.encode(np.zeros((height, width, 1), np.uint8, order="F"))',
        'fm.encode(np.zeros((width, height, 1), np.uint8, order="F"))',
        "to_rle([]) gives an empty mask of size [w, h]"),
    Bug("s2-in-polygons-intersect", "inputs", S + "annotations.py",
        "return fm.merge(cast(List[Dict[str, Any]], fm.frPyObjects(seg, height, width)))",
        "return fm.merge(cast(List[Dict[str, Any]], fm.frPyObjects(seg, height, width)), 1)",
        "to_rle of several polygons gives their intersection, not their union"),
    Bug("s2-in-sa1b-image-id-zero", "inputs", S + "annotations.py",
        "if isinstance(v, bool) or not isinstance(v, int) or v < 0:",
        "if isinstance(v, bool) or not isinstance(v, int) or v <= 0:",
        "an SA-1B image with image_id 0 (or width/height 0) is rejected"),
]


# Written with the set but left out of the run for time (2 cores shared by 7
# sessions): run them with --reserve (each old text also matches exactly once).
RESERVE: List[Bug] = [
    Bug("s2-cli-show-grid-nonsa1b", "cli", S + "cli/show.py",
        'if not (isinstance(obj, dict) and "image" in obj):',
        "if not isinstance(obj, dict):",
        "--grid on a directory that also holds a COCO JSON fails (exit 1) instead of skipping it"),
    Bug("s2-cli-show-sheet-upscale", "cli", S + "cli/show.py",
        "s = min(1.0, GRID_CELL / max(mh, mw, 1))",
        "s = GRID_CELL / max(mh, mw, 1)",
        "contact sheet scales small images up to 512 px instead of keeping them"),
    Bug("s2-cli-show-sheet-no-centre", "cli", S + "cli/show.py",
        "y0 = (n // cols) * (ch + GRID_GAP) + (ch - th) // 2",
        "y0 = (n // cols) * (ch + GRID_GAP)",
        "contact sheet: a picture shorter than its cell is drawn at the top, not centred"),
    Bug("s2-cli-show-sibling-png", "cli", S + "cli/show.py",
        'cands += [stem + ext for ext in (".jpg", ".jpeg", ".png")]',
        'cands += [stem + ext for ext in (".jpg", ".jpeg")]',
        "an SA-1B JSON whose image is a .png next to it (no file_name) is drawn on a black canvas"),
    Bug("s2-cli-runjob-stdout", "cli", S + "cli/_jobs.py",
        'print(f"error: {e}", file=sys.stderr)',
        'print(f"error: {e}")',
        "usage errors of index/validate/polygons are printed on stdout, not stderr"),
    Bug("s2-cli-poly-yolo-precision", "cli", S + "cli/polygons.py",
        'f"{v:.6g}"',
        'f"{v:.4g}"',
        "YOLO coordinates written with 4 significant digits instead of 6"),
    Bug("s2-cli-poly-no-image-id", "cli", S + "cli/polygons.py",
        '            a.setdefault("image_id", iid)\n',
        "",
        "SA-1B annotations in the COCO output have no image_id"),
    Bug("s2-jobs-skip-masks-zero", "jobs", S + "jobs/tasks.py",
        'res = SourceResult(source, "skipped", masks=meta.num_rows)',
        'res = SourceResult(source, "skipped")',
        "a rerun counts 0 masks for the sources it skips"),
    Bug("s2-jobs-centroid-problem-row", "jobs", S + "jobs/tasks.py",
        'Problem("malformed", cols["image_id"][r], where[r], f"invalid RLE: {why}")',
        'Problem("malformed", cols["image_id"][r], r, f"invalid RLE: {why}")',
        "--features: an invalid RLE is reported at its row number, not its annotation index"),
    Bug("s2-jobs-frpy-counts-unchecked", "jobs", S + "jobs/tasks.py",
        'if a["counts"] != b["counts"] or list(a["size"]) != list(b["size"]):',
        'if list(a["size"]) != list(b["size"]):',
        "validate: frPyObjects giving different counts in the two libraries goes unreported"),
    Bug("s2-jobs-bbox-tolerance", "jobs", S + "jobs/tasks.py",
        "_BBOX_TOL = 1e-6",
        "_BBOX_TOL = 1e-3",
        "a bbox off by 1e-4 passes the check (documented: within 1e-6)"),
    Bug("s2-jobs-polygons-uncounted", "jobs", S + "jobs/api.py",
        "            s.polygons += r.polygons\n",
        "",
        "validate summary: 'polygons skipped' always 0"),
    Bug("s2-jobs-inprocess-workers", "jobs", S + "validate.py",
        "time.perf_counter() - t0, workers=0)",
        "time.perf_counter() - t0, workers=1)",
        "in-process validate's summary says 'workers: 1' instead of 'in process (no Dask)'"),
    Bug("s2-sa1b-bool-shape-unchecked", "sa1b", S + "sa1b/annotation.py",
        "            if idx.shape != (n,):\n"
        '                raise ValueError(f"a boolean selection must have shape ({n},), got {idx.shape}")\n',
        "",
        "a boolean selection shorter than the masks is accepted"),
    Bug("s2-sa1b-area-float", "sa1b", S + "sa1b/annotation.py",
        'areas=_column(anns, "area", "int", (), "an integer", np.int64)',
        'areas=_column(anns, "area", "number", (), "an integer", np.int64)',
        "a fractional area (12.5) is accepted and truncated"),
    Bug("s2-sa1b-clear-keeps-bytes", "sa1b", S + "sa1b/decoder.py",
        "        self._cache.clear()\n        self._used = 0\n",
        "        self._cache.clear()\n",
        "clear() leaves the byte count: cache_info wrong and later results evicted at once"),
    Bug("s2-sa1b-image-resize-swap", "sa1b", S + "sa1b/dataset.py",
        "im.resize((self.output_size[1], self.output_size[0]), Image.Resampling.BILINEAR)",
        "im.resize((self.output_size[0], self.output_size[1]), Image.Resampling.BILINEAR)",
        "image='decode' with a non-square output_size: the image comes out (W, H)"),
    Bug("s2-sa1b-member-error-fields", "sa1b", S + "sa1b/shard.py",
        'raise SA1BFormatError(f"{name}:{m.name}: {e}", e.field, e.index) from e',
        'raise SA1BFormatError(f"{name}:{m.name}: {e}") from e',
        "a malformed JSON in a shard: the error loses its field and annotation index"),
    Bug("s2-viz-empty-table-size", "viz", S + "viz/overlay.py",
        "and len(rles.counts_offsets) > 1:",
        "and len(rles.counts_offsets) > 0:",
        "an SA1BAnnotation with no mask over an image of another size raises"),
    Bug("s2-viz-load-oserror", "viz", S + "viz/image.py",
        "except OSError as e:  # Pillow's UnidentifiedImageError is an OSError",
        "except ValueError as e:  # Pillow's UnidentifiedImageError is an OSError",
        "bytes that are not an image raise Pillow's OSError instead of ValueError"),
    Bug("s2-tr-sr-max", "transforms", S + "transforms.py",
        "    if sampling_ratio > _MAX_GRID:\n",
        "    if sampling_ratio > 2 * _MAX_GRID:\n",
        "roi_align: sampling_ratio up to 2^21 accepted (limit 2^20)"),
    Bug("s2-tr-positive-bool", "transforms", S + "_args.py",
        "    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):\n"
        "        raise TypeError(f\"{what} must be an int",
        "    if not isinstance(v, (int, np.integer)):\n        raise TypeError(f\"{what} must be an int",
        "size=(True, 4) accepted as (1, 4)"),
    Bug("s2-tr-check-size-width", "transforms", S + "_args.py",
        "if h * w > MAX_PIXELS or h > MAX_PIXELS or w > MAX_PIXELS:",
        "if h * w > MAX_PIXELS or h > MAX_PIXELS:",
        "a 0 x 2^33 mask passes check_size (width over the limit)"),
    Bug("s2-geo-ring-area-triangle", "geometry", S + "geometry/polygons.py",
        "if len(p) < 3:",
        "if len(p) < 4:",
        "ring_area of a 3-point ring is 0 (min_area drops triangles)"),
    Bug("s2-geo-connectivity-bool", "geometry", S + "geometry/regions.py",
        "if isinstance(connectivity, bool) or not isinstance(connectivity, (int, np.integer)):",
        "if not isinstance(connectivity, (int, np.integer)):",
        "connectivity=True raises ValueError instead of TypeError"),
    Bug("s2-ce-error-side", "cocoeval", S + "cocoeval.py",
        "ann = (self.gts if side == 0 else self.dts).anns[e.index or 0]",
        "ann = (self.dts if side == 0 else self.gts).anns[e.index or 0]",
        "a bad RLE's error names an annotation of the other side"),
    Bug("s2-in-frpy-flat-5", "inputs", S + "mask.py",
        "elif type(pyobj) is list and len(pyobj) > 4:",
        "elif type(pyobj) is list and len(pyobj) > 5:",
        "frPyObjects(flat list of 5 numbers) raises TypeError"),
    Bug("s2-in-siz-zero", "inputs", S + "mask.py",
        "    if i < 0:\n        raise OverflowError",
        "    if i <= 0:\n        raise OverflowError",
        "general-path frPyObjects with h or w 0 raises OverflowError (only where the fast path declines)"),
]


# Words of the test files most likely to catch a bug in each source file: the
# runner still runs every file of the bug's area, only these first (with -x a
# caught bug then costs one file, not the area). Names only, as AREA_WORDS.
FIRST = {
    "cli/show.py": ["pins_cli.", "show"], "cli/polygons.py": ["polygons"],
    "cli/_jobs.py": ["pins_cli.", "test_cli."], "cli/validate.py": ["pins_cli.", "test_cli."],
    "fileio.py": ["pins_cli.", "show"], "jobs/": ["jobs"],
    "annotations.py": ["jobs", "annotations"],
    "sa1b/": ["sa1b"], "viz/": ["overlay", "viz"], "rle_render.c": ["overlay", "viz"], "compat.py": ["compat", "patch"],
    "transforms.py": ["transform", "roi"], "_args.py": ["args", "transform"],
    "geometry/": ["test_polygon", "region", "components"],
    "cocoeval.py": ["cocoeval"], "mask.py": ["generator", "dropin"], "api.py": ["generator", "annotations"],
}


def _names(path: str, mod: str = "") -> set:
    """A module's ``__all__`` (read, not imported); with ``mod``, the names
    it imports from ``.mod`` or a package above it."""
    out: set = set()
    for n in ast.parse(open(path).read()).body:
        if mod and isinstance(n, ast.ImportFrom) and n.level == 1 and (mod + ".").startswith(f"{n.module}."):
            out |= {a.asname or a.name for a in n.names}
        elif not mod and isinstance(n, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in n.targets):
            out |= set(ast.literal_eval(n.value))
    return out


def subject_tests(b: Bug, layout: bool = True) -> List[str]:
    """The test files that import ``b``'s module (by its dotted name or a package of it below
    fastrle, ``from <package> import <name>``, or a name fastrle re-exports from it), pins first;
    then its area's other files (by name: they may reach it through others, as the CLI tests
    reach fileio). A C file has no module: its area's files."""
    area = planted.area_tests(b.area, layout)
    if not b.file.endswith(".py"):
        return area
    parts = b.file[len("src/"):-len(".py")].split("/")
    parts = parts[:-1] if parts[-1] == "__init__" else parts
    pats = [rf"\b{re.escape('.'.join(parts[:k]))}\b|from\s+{re.escape('.'.join(parts[:k - 1]))}\s+import\s"
            rf"[^\n]*\b{parts[k - 1]}\b" for k in range(2, len(parts) + 1)]
    top = _names(os.path.join(planted.HERE, S, "__init__.py"), ".".join(parts[1:]))
    top = top & (_names(os.path.join(planted.HERE, b.file)) or top)  # no __all__: every name imported
    pats += [rf"\bfastrle\.{n}\b|from\s+fastrle\s+import\s[^\n]*\b{n}\b" for n in sorted(top)]
    rx = re.compile("|".join(pats))
    files = sorted((p for p in glob.glob(os.path.join(planted.HERE, "tests", "test_*.py"))
                    if os.path.basename(p) not in planted.BASELINE_FAILING + ("test_layout.py",)
                    and rx.search(open(p).read())), key=lambda p: (not p.endswith("_pins.py"), p))
    mine = [os.path.relpath(p, planted.HERE) for p in files]
    return mine + [f for f in area if f not in mine]  # test_layout.py stays last


def ordered_tests(b: Bug, layout: bool) -> List[str]:
    """The runner's files for ``b`` (:func:`subject_tests`), those named in
    FIRST for its source file first."""
    files = subject_tests(b, layout)
    words = next((w for k, w in FIRST.items() if k in b.file), [])
    return sorted(files, key=lambda f: (not any(w in os.path.basename(f) for w in words), files.index(f)))


_run_one = planted.run_one


def run_one(b: Bug, scratch: str, timeout: int, layout: bool = True) -> dict:
    """planted.run_one with the files in :func:`ordered_tests`' order."""
    if planted.TESTS_OVERRIDE:
        return _run_one(b, scratch, timeout, layout)
    planted.TESTS_OVERRIDE[:] = ordered_tests(b, layout)
    try:
        return _run_one(b, scratch, timeout, layout)
    finally:
        planted.TESTS_OVERRIDE[:] = []


def summary(path: str) -> str:
    """Per-area caught/survived counts of a results file, as a Markdown table,
    with the overall figure and the figure without the near-the-issue bugs."""
    import json

    with open(path) as f:
        res = json.load(f)
    near = {b.id for b in BUGS + RESERVE if b.why.startswith("[near")}
    areas: dict = {}
    bad = [r for r in res if r["result"].startswith("error rc=4") or r["result"] == "timeout"]
    res = [r for r in res if r not in bad]  # the runner's own trouble (a missing file, a timeout): no verdict
    for r in res:
        a = areas.setdefault(r["area"], [0, 0, []])
        if r["result"] == "survived":
            a[1] += 1
            a[2].append(r["id"])
        else:
            a[0] += 1
    lines = ["| area | bugs | caught | survived |", "|---|---|---|---|"]
    for name in AREA_WORDS:
        if name in areas:
            c, s, ids = areas[name]
            lines.append(f"| {name} | {c + s} | {c} | {s}: {', '.join(ids) or '-'} |")
    tot = len(res)
    caught = sum(a[0] for a in areas.values())
    far = [r for r in res if r["id"] not in near]
    fc = sum(r["result"] != "survived" for r in far)
    lines.append(f"| **all** | {tot} | {caught} ({100 * caught / max(tot, 1):.0f}%) | {tot - caught} |")
    lines.append(f"| without the {tot - len(far)} near-the-issue bugs | {len(far)} | {fc} "
                 f"({100 * fc / max(len(far), 1):.0f}%) | {len(far) - fc} |")
    if bad:
        lines.append(f"\nno verdict (left out above): {', '.join(r['id'] + ' (' + r['result'] + ')' for r in bad)}")
    return "\n".join(lines)


def main() -> int:
    if "--summary" in sys.argv:
        k = sys.argv.index("--summary")
        print(summary(sys.argv[k + 1] if len(sys.argv) > k + 1 else "/tmp/planted24-set2-results.json"))
        return 0
    reserve = "--reserve" in sys.argv
    if reserve:
        sys.argv.remove("--reserve")
    planted.BUGS[:] = BUGS + RESERVE if reserve else BUGS
    planted.AREA_WORDS.clear()
    planted.AREA_WORDS.update(AREA_WORDS)
    planted.run_one = run_one
    sys.argv[1:1] = ["--scratch", "/tmp/planted24-set2-scratch", "--json", "/tmp/planted24-set2-results.json"]
    return planted.main()


if __name__ == "__main__":
    sys.exit(main())
