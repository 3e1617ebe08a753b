"""Geometry straight from the runs: polygons with holes (:func:`to_polygons`).

- :func:`to_polygons`: each mask's rings, equal to ``cv2.findContours``
  (``RETR_EXTERNAL`` / ``RETR_CCOMP``, ``CHAIN_APPROX_NONE`` / ``SIMPLE``),
  as COCO pixel outlines or cv2 int32 arrays, holes optionally bridged;
- :func:`ring_area`: a ring's shoelace area (what ``min_area`` measures).
"""
from .polygons import Rings, ring_area, to_polygons

__all__ = ["Rings", "to_polygons", "ring_area"]
