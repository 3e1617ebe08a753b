"""SA-1B (Segment Anything) annotations: reader, shards, dataset, caching decoder.

- :mod:`.annotation`: :func:`load` and :class:`SA1BAnnotation`, a ragged RLE
  table plus numpy metadata that decodes straight into (N, H, W) buffers;
- :mod:`.shard`: streaming SA-1B tar shards (:func:`iter_shard`);
- :mod:`.dataset`: :class:`SA1BDataset`, a torch-style map dataset;
- :mod:`.decoder`: :class:`SA1BMaskDecoder`, top-k with an LRU cache bounded by bytes.
"""
from .annotation import (SORT_KEYS, SA1BAnnotation, SA1BFormatError, from_dict, json_backend,
                         load)
from .dataset import SA1BDataset, resize_nearest
from .decoder import DecodedMasks, SA1BMaskDecoder
from .shard import ShardError, iter_shard

__all__ = ["SORT_KEYS", "SA1BAnnotation", "SA1BFormatError", "from_dict", "json_backend", "load",
           "SA1BDataset", "resize_nearest", "DecodedMasks", "SA1BMaskDecoder", "ShardError",
           "iter_shard"]
