"""Geometry straight from the runs, with no full-frame decode.

- :func:`to_polygons`: each mask's rings, equal to ``cv2.findContours``
  (``RETR_EXTERNAL`` / ``RETR_CCOMP``, ``CHAIN_APPROX_NONE`` / ``SIMPLE``),
  as COCO pixel outlines or cv2 int32 arrays, holes optionally bridged;
- :func:`ring_area`: a ring's shoelace area (what ``min_area`` measures);
- :func:`components`: connected components with cv2's stats and centroids;
- :func:`remove_small_regions`: Segment Anything's small-region cleanup.
"""
from .polygons import Rings, ring_area, to_polygons
from .regions import CONNECTIVITIES, REGION_MODES, Components, components, remove_small_regions

__all__ = ["Rings", "to_polygons", "ring_area", "CONNECTIVITIES", "REGION_MODES", "Components", "components",
           "remove_small_regions"]
