"""Build the C core once as a static library, link it into each Cython glue
extension, and ship the CUDA kernel sources from csrc/kernels/ inside the
package."""
import concurrent.futures
import glob
import os
import shutil
import sys

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


def read_flags(section, path=os.path.join(HERE, "build_flags.txt")):
    """The compiler flags of one section of build_flags.txt ("gcc" or "msvc")."""
    flags, current = [], None
    with open(path) as f:
        for ln in f:
            ln = ln.strip()
            if ln.startswith("[") and ln.endswith("]"):
                current = ln[1:-1]
            elif ln and not ln.startswith("#") and current == section:
                flags.append(ln)
    if not flags:
        raise RuntimeError(f"build_flags.txt has no [{section}] flags")
    return flags


def compiler_flags(compiler_type):
    """(compile flags of the C core and the extensions, extension link flags)
    for a distutils compiler type: "msvc" takes the [msvc] section, every
    other compiler (unix, mingw32, cygwin: GCC and Clang) the [gcc] one.
    -lpthread only where POSIX threads are the platform's threads (not on
    Windows, whose threads come from the Win32 API)."""
    extra_c = os.environ.get("FASTRLE_CFLAGS", "").split()
    extra_ld = os.environ.get("FASTRLE_LDFLAGS", "").split()
    if compiler_type == "msvc":
        return read_flags("msvc") + extra_c, extra_ld
    threads = [] if sys.platform == "win32" else ["-lpthread"]
    return read_flags("gcc") + extra_c, threads + extra_ld


MACROS = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]

CORE_LIB = ("fastrle_core", {"sources": CORE, "include_dirs": ["csrc"], "obj_deps": {"": HEADERS}})

extensions = [
    Extension(
        "fastrle." + os.path.splitext(os.path.basename(pyx))[0],
        sources=[pyx],
        # relink when the core changes (the library is not a source)
        depends=CORE + HEADERS,
        include_dirs=["csrc", np.get_include()],
        define_macros=MACROS,
    )
    for pyx in PYX
]


def newer_group(sources, target):
    """Whether target is missing or older than any of sources."""
    return not os.path.exists(target) or max(os.path.getmtime(s) for s in sources) > os.path.getmtime(target)


class BuildClibParallel(build_clib):
    """build_clib with the core's files compiled -j at a time (build_ext's -j),
    with the flags of this compiler's build_flags.txt section."""

    def build_libraries(self, libraries):
        ext = self.distribution.get_command_obj("build_ext")
        jobs = ext.parallel if isinstance(ext.parallel, int) and ext.parallel > 1 else 1
        cflags, _ = compiler_flags(self.compiler.compiler_type)
        if self.compiler.compiler_type != "msvc":
            cflags = ["-fPIC"] + cflags
        for name, info in libraries:
            sources = sorted(info["sources"])
            deps = info.get("obj_deps", {}).get("", [])
            objects = self.compiler.object_filenames(sources, output_dir=self.build_temp)
            stale = [s for s, o in zip(sources, objects) if newer_group([s] + deps, o)]

            def compile_one(src):
                return self.compiler.compile([src], output_dir=self.build_temp,
                                             include_dirs=info.get("include_dirs"),
                                             extra_postargs=cflags, debug=self.debug)

            with concurrent.futures.ThreadPoolExecutor(jobs) as pool:
                list(pool.map(compile_one, stale))
            self.compiler.create_static_lib(objects, name, output_dir=self.build_clib, debug=self.debug)


class BuildExtWithCore(build_ext):
    """build_ext that builds the core library first (also for build_ext alone),
    and gives each extension its compiler's flags."""

    def run(self):
        self.run_command("build_clib")
        super().run()

    def build_extensions(self):
        cflags, ldflags = compiler_flags(self.compiler.compiler_type)
        for e in self.extensions:
            e.extra_compile_args = cflags
            e.extra_link_args = ldflags
        super().build_extensions()


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
