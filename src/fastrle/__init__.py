"""fastrle: fast, safe COCO run-length mask codec.

The native API decodes straight into C-contiguous (N, H, W) buffers with the
GIL released and work spread over threads; ``fastrle.mask`` is a drop-in for
``pycocotools.mask``.
"""
from ._core import RLEError
from .api import area, bbox, decode, decode_ragged, empty, encode
from .transforms import roi_align

__version__ = "0.1.0"
__all__ = ["RLEError", "area", "bbox", "decode", "decode_ragged", "empty", "encode", "roi_align",
           "__version__"]
