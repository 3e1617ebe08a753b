"""Build the C core and its Cython glue as one extension, and ship the CUDA
kernel sources from csrc/kernels/ inside the package."""
import glob
import os
import shutil

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
# The whole C core (every csrc/*.c) goes into each extension: a new C file or a
# new glue module (src/fastrle/_<name>.pyx -> fastrle._<name>) needs no edit here.
CORE = sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "csrc", "*.c")))
PYX = sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "src", "fastrle", "_*.pyx")))

# -O3 for the hot loops; no -march=native, so wheels run on any x86-64/arm64.
# fp-contract=off keeps float results bit-identical to pycocotools' (no FMA).
cflags = ["-O3", "-std=c99", "-ffp-contract=off", "-fno-strict-aliasing"]
extra = os.environ.get("FASTRLE_CFLAGS")
if extra:
    cflags += extra.split()
ldflags = ["-lpthread"] + (os.environ.get("FASTRLE_LDFLAGS", "").split())

extensions = [
    Extension(
        "fastrle." + os.path.splitext(os.path.basename(pyx))[0],
        sources=[pyx] + CORE,
        include_dirs=["csrc", np.get_include()],
        define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
        extra_compile_args=cflags,
        extra_link_args=ldflags,
    )
    for pyx in PYX
]


class BuildPyWithKernels(build_py):
    """Copy csrc/kernels/*.cuh into fastrle/kernels/ (the kernels' one home is csrc/)."""

    def run(self):
        super().run()
        dst = os.path.join(self.build_lib, "fastrle", "kernels")
        os.makedirs(dst, exist_ok=True)
        for f in glob.glob(os.path.join(HERE, "csrc", "kernels", "*.cuh")):
            shutil.copy(f, dst)


setup(
    ext_modules=cythonize(extensions, compiler_directives={"language_level": "3"}),
    cmdclass={"build_py": BuildPyWithKernels},
)
