"""Decode COCO RLE masks on an NVIDIA GPU (CuPy; optional ``fastrle[gpu]``).

- :mod:`.api`: the public functions and the CuPy backend;
- :mod:`.encoder`: ``encode``, masks on the GPU to COCO RLE strings;
- :mod:`.launch`: packing, launch planning and status checks, shared by the
  CuPy backend and the CPU emulator in the tests.

Importing this package never touches CUDA.
"""
from .api import GPUUnavailableError, available, check_deferred, decode, decode_ragged
from .encoder import encode

__all__ = ["GPUUnavailableError", "available", "check_deferred", "decode", "decode_ragged", "encode"]
