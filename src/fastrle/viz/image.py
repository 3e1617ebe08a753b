"""Reading and writing image files for the overlays (Pillow, imported lazily)."""
from __future__ import annotations

import io
import os
from typing import Any

import numpy as np

from ..optional import require

__all__ = ["load_image", "save_image", "pillow"]


def pillow() -> Any:
    """The ``PIL.Image`` module, or an ImportError that says what to install."""
    return require("PIL.Image", "reading and writing image files")


def load_image(src: Any) -> np.ndarray:
    """An image as an (H, W, 3) uint8 RGB array.

    ``src`` is such an array (returned as is), a path to a JPEG or PNG file,
    or the file's bytes. Files are decoded with Pillow and converted to RGB.
    """
    if isinstance(src, np.ndarray):
        if src.dtype != np.uint8 or src.ndim != 3 or src.shape[2] != 3:
            raise ValueError(f"image must be an (H, W, 3) uint8 array, got {src.dtype} {src.shape}")
        return src
    Image = pillow()
    if isinstance(src, (bytes, bytearray, memoryview)):
        f: Any = io.BytesIO(bytes(src))
        name = "image bytes"
    elif isinstance(src, (str, os.PathLike)):
        name = os.fspath(src)
        if not os.path.isfile(name):
            raise FileNotFoundError(f"image file not found: {name}")
        f = name
    else:
        raise TypeError("image must be an (H, W, 3) uint8 array, a path, bytes or None, "
                        f"got {type(src).__name__}")
    try:
        with Image.open(f) as im:
            return np.asarray(im.convert("RGB")).copy()
    except OSError as e:  # Pillow's UnidentifiedImageError is an OSError
        raise ValueError(f"cannot read {name} as an image: {e}") from None


def save_image(img: np.ndarray, path: str, format: str) -> None:
    """Write an (H, W, 3) uint8 array as PNG or JPEG (``format`` "PNG"/"JPEG")."""
    Image = pillow()
    im = Image.fromarray(np.ascontiguousarray(img), "RGB")
    if format == "JPEG":
        im.save(path, format="JPEG", quality=90)
    else:
        im.save(path, format=format, optimize=True)
