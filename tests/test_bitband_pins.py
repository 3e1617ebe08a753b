"""Pins for the bit-band decode (csrc/rle_decode.c): bb_build, the transposes, the expansion, the
packed rows, the stage: outside oracles (pycocotools, np.packbits, cv2) or hand-written
expectations, never fastrle itself."""
