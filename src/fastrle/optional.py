"""Optional dependencies: imported only when used, with one message when missing.

CuPy, Dask, pyarrow, matplotlib, Pillow, pycocotools, OpenCV and torch are
extras (see ``pyproject.toml``). Code that needs one calls :func:`require`,
which imports it or raises ImportError saying what to install; code that
falls back without it (orjson -> json, the bench's comparators) imports it
itself and words no install message.
"""
from __future__ import annotations

import importlib
from types import ModuleType
from typing import Dict, Optional, Tuple

__all__ = ["PACKAGES", "install_hint", "missing_message", "require"]

# top-level module (or tool) -> (name people know it by, pip package, fastrle extra or None)
PACKAGES: Dict[str, Tuple[str, str, Optional[str]]] = {
    "cupy": ("CuPy", "cupy-cuda13x", "gpu"),
    "distributed": ("dask[distributed]", "dask[distributed]", "dask"),
    "dask": ("Dask", "dask[distributed]", "dask"),
    "pyarrow": ("pyarrow", "pyarrow", "dask"),
    "matplotlib": ("matplotlib", "matplotlib", "viz"),
    "PIL": ("Pillow", "Pillow", "viz"),
    "pycocotools": ("pycocotools", "pycocotools", None),
    "cv2": ("OpenCV", "opencv-python-headless", None),
    "torch": ("torch", "torch", None),
    "torchvision": ("torchvision", "torchvision", None),
    "orjson": ("orjson", "orjson", None),
    "cuda": ("NVRTC (cuda-bindings)", "cuda-bindings nvidia-cuda-nvrtc", "gpu-test"),
    "cuobjdump": ("cuobjdump", "nvidia-cuda-cuobjdump", "gpu-test"),
}


def _entry(module: str, extra: Optional[str]) -> Tuple[str, str, Optional[str]]:
    top = module.split(".")[0]
    name, pkg, default_extra = PACKAGES.get(top, (top, top, None))
    return name, pkg, default_extra if extra is None else extra


def install_hint(module: str, extra: Optional[str] = None) -> str:
    """``pip install <package> (or pip install 'fastrle[<extra>]')`` for ``module``.

    ``module`` is an import name (``"PIL"``, ``"matplotlib.pyplot"``) or a tool
    listed in :data:`PACKAGES`; ``extra`` overrides the extra that provides it.
    """
    _, pkg, extra = _entry(module, extra)
    pkg = " ".join(f"'{p}'" if "[" in p else p for p in pkg.split())
    hint = f"pip install {pkg}"
    return f"{hint} (or pip install 'fastrle[{extra}]')" if extra else hint


def missing_message(module: str, purpose: str, extra: Optional[str] = None,
                    cause: Optional[BaseException] = None) -> str:
    """The one message for "``purpose`` needs ``module``, which is missing"."""
    name = _entry(module, extra)[0]
    why = f" ({cause})" if cause is not None else ""
    return f"{purpose} needs {name}, which is not installed{why}: {install_hint(module, extra)}"


def require(module: str, purpose: str, extra: Optional[str] = None) -> ModuleType:
    """Import and return ``module``, or raise ImportError saying what to install.

    ``purpose`` names what needs it (``"show_anns"``, ``"fastrle.gpu"``); the
    message reads ``<purpose> needs <name>, which is not installed (<cause>):
    pip install <package> (or pip install 'fastrle[<extra>]')``.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(missing_message(module, purpose, extra, exc)) from None
