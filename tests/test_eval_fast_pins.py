"""Pins for COCOeval's loadRes fast path and evaluate's gather/group (_eval.pyx): outside oracles
(pycocotools, np.packbits, cv2) or hand-written expectations, never fastrle itself."""
