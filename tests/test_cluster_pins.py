"""Pins for fastrle.jobs.api.cluster/map_sources and fastrle polygons --workers: outside oracles
(pycocotools, np.packbits, cv2) or hand-written expectations, never fastrle itself."""
