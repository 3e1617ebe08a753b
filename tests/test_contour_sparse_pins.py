"""Pins for to_polygons' sparse store (csrc/rle_contour.c): outside oracles (pycocotools, np.packbits,
cv2) or hand-written expectations, never fastrle itself."""
