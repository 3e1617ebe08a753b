"""Look at masks: overlays drawn straight from the runs.

- :func:`overlay`: masks over an image (array, JPEG/PNG path or bytes, or a
  black canvas) as an (H, W, 3) uint8 picture, exact integer blending and
  contours, drawn in C from the runs with the GIL released;
- :func:`show_anns`: Segment Anything's notebook helper on matplotlib axes;
- :func:`palette`: the fixed default colours;
- :func:`load_image` / :func:`save_image`: Pillow I/O.

Pillow (image files) and matplotlib (show_anns) are optional:
``pip install 'fastrle[viz]'``.
"""
from .image import load_image, save_image
from .overlay import draw_order, overlay
from .palette import palette
from .show import show_anns

__all__ = ["overlay", "draw_order", "show_anns", "palette", "load_image", "save_image"]
