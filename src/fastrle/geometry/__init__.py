"""Geometry straight from the runs: connected components and Segment
Anything's small-region cleanup (:mod:`.components`)."""
from .regions import CONNECTIVITIES, REGION_MODES, Components, components, remove_small_regions

__all__ = ["CONNECTIVITIES", "REGION_MODES", "Components", "components", "remove_small_regions"]
