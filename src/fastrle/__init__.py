"""fastrle: fast, safe COCO run-length mask codec.

The native API decodes straight into C-contiguous (N, H, W) buffers with the
GIL released and work spread over threads; ``fastrle.mask`` is a drop-in for
``pycocotools.mask``, and ``patch_pycocotools()`` routes code written for
pycocotools through it.
"""
from ._core import parse_isa
from ._mask import release_spare, spare_bytes, spare_limit
from .errors import RLEError, RLEKeyError
from .api import area, bbox, decode, decode_ragged, empty, encode
from .compat import patch_pycocotools, unpatch_pycocotools
from .geometry import components, remove_small_regions, to_polygons
from .transforms import roi_align

__version__ = "0.1.0"
__all__ = ["RLEError", "RLEKeyError", "area", "bbox", "decode", "decode_ragged", "empty", "encode",
           "components", "remove_small_regions", "parse_isa", "patch_pycocotools", "unpatch_pycocotools",
           "roi_align", "to_polygons", "release_spare", "spare_bytes", "spare_limit", "__version__"]
