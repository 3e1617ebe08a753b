"""Build the C core once as a static library, link it into each Cython glue
extension, and ship the CUDA kernel sources from csrc/kernels/ inside the
package."""
import concurrent.futures
import glob
import os
import shutil

import numpy as np
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_clib import build_clib
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
# The C core (every csrc/*.c) is compiled once into a static library that each
# extension links: a new C file or a new glue module (src/fastrle/_<name>.pyx
# -> fastrle._<name>) needs no edit here.
CORE = sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "csrc", "*.c")))
HEADERS = sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "csrc", "*.h")))
PYX = sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, "src", "fastrle", "_*.pyx")))


def read_flags(path=os.path.join(HERE, "build_flags.txt")):
    """The compiler flags of build_flags.txt (lines starting with "-")."""
    with open(path) as f:
        return [ln.strip() for ln in f if ln.strip().startswith("-")]


cflags = read_flags() + os.environ.get("FASTRLE_CFLAGS", "").split()
ldflags = ["-lpthread"] + os.environ.get("FASTRLE_LDFLAGS", "").split()
MACROS = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]

CORE_LIB = ("fastrle_core", {"sources": CORE, "include_dirs": ["csrc"], "cflags": ["-fPIC"] + cflags,
                             "obj_deps": {"": HEADERS}})

extensions = [
    Extension(
        "fastrle." + os.path.splitext(os.path.basename(pyx))[0],
        sources=[pyx],
        # relink when the core changes (the library is not a source)
        depends=CORE + HEADERS,
        include_dirs=["csrc", np.get_include()],
        define_macros=MACROS,
        extra_compile_args=cflags,
        extra_link_args=ldflags,
    )
    for pyx in PYX
]


def newer_group(sources, target):
    """Whether target is missing or older than any of sources."""
    return not os.path.exists(target) or max(os.path.getmtime(s) for s in sources) > os.path.getmtime(target)


class BuildClibParallel(build_clib):
    """build_clib with the core's files compiled -j at a time (build_ext's -j)."""

    def build_libraries(self, libraries):
        ext = self.distribution.get_command_obj("build_ext")
        jobs = ext.parallel if isinstance(ext.parallel, int) and ext.parallel > 1 else 1
        for name, info in libraries:
            sources = sorted(info["sources"])
            deps = info.get("obj_deps", {}).get("", [])
            objects = self.compiler.object_filenames(sources, output_dir=self.build_temp)
            stale = [s for s, o in zip(sources, objects) if newer_group([s] + deps, o)]

            def compile_one(src):
                return self.compiler.compile([src], output_dir=self.build_temp,
                                             include_dirs=info.get("include_dirs"),
                                             extra_postargs=info.get("cflags"), debug=self.debug)

            with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
                list(pool.map(compile_one, stale))
            self.compiler.create_static_lib(objects, name, output_dir=self.build_clib, debug=self.debug)


class BuildExtWithCore(build_ext):
    """build_ext that builds the core library first (also for build_ext alone)."""

    def run(self):
        self.run_command("build_clib")
        super().run()


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
    libraries=[CORE_LIB],
    cmdclass={"build_py": BuildPyWithKernels, "build_clib": BuildClibParallel, "build_ext": BuildExtWithCore},
)
