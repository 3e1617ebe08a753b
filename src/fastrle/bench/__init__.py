"""``fastrle bench``: side-by-side timings of fastrle against memset and its peers.

- :mod:`.harness`: interleaved timing, results, the case registry, table/JSON/plot output;
- :mod:`.core`: decode/encode cases a-f on SA-1B-like and COCO-size data;
- :mod:`.transforms`: fused resize / roi_align / packed decode (``--mode transforms``);
- :mod:`.percall`: the drop-in per call and COCOeval (``fastrle bench --mode dropin``);
- :mod:`.sweep`: the drop-in over sizes from 1x1 to 1500x2250 (``--case sweep``, mode dropin);
- :mod:`.sa1b`: SA-1B file-to-masks and spatial features (``fastrle bench --sa1b``);
- :mod:`.overlay`: fastrle.viz.overlay vs the show_anns recipe (``--case overlay``);
- :mod:`.geometry`: fastrle.to_polygons vs decode + cv2.findContours (``--case geometry``);
- :mod:`.jobs`: dataset jobs on Dask (``fastrle bench --case jobs``);
- :mod:`.components`: components and SAM's small-region cleanup (``--case components``, mode geometry);
- :mod:`.gpu`: GPU kernel timings (``fastrle bench --gpu``, needs a GPU and CuPy).

Importing this package registers every CPU case group.
"""
from . import core  # noqa: F401  (registers its cases)
from . import overlay  # noqa: F401  (registers the overlay case)
from . import geometry  # noqa: F401  (registers the geometry case)
from . import transforms  # noqa: F401  (registers resize, roi, packed)
from . import jobs  # noqa: F401  (registers the Dask case, mode "jobs")
from . import percall  # noqa: F401  (registers the drop-in cases)
from . import sweep  # noqa: F401  (registers the size sweep, mode "dropin")
from . import components  # noqa: F401  (registers the components case, mode "geometry")
from .harness import (CASES, BenchConfig, BenchData, CaseResult, Comparator, Ratio, Timing,
                      case_aliases, environment, format_table, modes, plot, register, run,
                      run_case, select_cases, time_interleaved, to_json_obj, unjudged)

__all__ = [
    "CASES", "BenchConfig", "BenchData", "CaseResult", "Comparator", "Ratio", "Timing",
    "case_aliases", "environment", "format_table", "modes", "plot", "register", "run",
    "run_case", "select_cases", "time_interleaved", "to_json_obj", "unjudged",
]
