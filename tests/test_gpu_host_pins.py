"""Pins for the GPU host path (gpu/api.py's _Status, _gpupack.fill_upload) through the fake CuPy:
outside oracles (pycocotools, np.packbits, cv2) or hand-written expectations, never fastrle itself."""
