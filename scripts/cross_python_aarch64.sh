#!/usr/bin/env bash
# The Python tests on aarch64 under qemu-aarch64 (best effort; slow: every
# instruction of the interpreter is emulated). Builds fastrle's extensions
# for aarch64 with aarch64-linux-gnu-gcc (the core with build_flags.txt's
# [gcc] flags, the Cython C of scripts/cross_check.sh), stages them with the
# Python sources, and runs pytest with Debian's arm64 CPython 3.11 (fetched
# with apt-get download into a private apt state, unpacked, not installed)
# and PyPI's aarch64 wheels of numpy, pytest, hypothesis and pycocotools.
#   scripts/cross_python_aarch64.sh [test files...]   (default: the core files below)
# Needs scripts/cross_check.sh macos (or all) to have run first (the Cython C
# and the tools venv), and qemu-user + gcc-aarch64-linux-gnu.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${CROSS_OUT:-$ROOT/build/cross}
W=$OUT/py-aarch64
# (not test_parse_kernels.py: its subprocesses would need binfmt_misc to start qemu)
TESTS=${*:-"tests/test_native.py tests/test_threads.py tests/test_mask_dropin.py"}
TOOLS=$OUT/tools-venv
[ -d "$OUT/cython/src/fastrle" ] && [ -x "$TOOLS/bin/python" ] || { echo "run scripts/cross_check.sh first"; exit 1; }
mkdir -p "$W"

# ---- Debian's arm64 CPython 3.11, unpacked into a root ----
R=$W/root
if [ ! -x "$R/usr/bin/python3.11" ]; then
  A=(-o APT::Architecture=arm64 -o "APT::Architectures::=arm64" -o "Dir::State::Lists=$W/apt/lists"
     -o "Dir::Cache=$W/apt/cache" -o "Dir::State::status=$W/apt/status")
  mkdir -p "$W/apt/lists/partial" "$W/apt/cache/archives/partial" "$W/debs" && touch "$W/apt/status"
  apt-get "${A[@]}" update -qq
  (cd "$W/debs" && apt-get "${A[@]}" download -qq python3.11-minimal libpython3.11-minimal libpython3.11-stdlib \
    python3.11 libpython3.11-dev libexpat1 zlib1g libffi8 libssl3 libbz2-1.0 liblzma5 libsqlite3-0 libncursesw6 \
    libtinfo6 libreadline8 libuuid1 libdb5.3 libgdbm6 libcrypt1 media-types libstdc++6 libgcc-s1 2>&1 | grep -v '^W: ' || true)
  for d in "$W"/debs/*.deb; do dpkg -x "$d" "$R"; done
fi
export QEMU_LD_PREFIX=/usr/aarch64-linux-gnu
export QEMU_SET_ENV="LD_LIBRARY_PATH=$R/usr/lib/aarch64-linux-gnu:$R/lib/aarch64-linux-gnu,PYTHONHOME=$R/usr"
PY=(qemu-aarch64 "$R/usr/bin/python3.11")
"${PY[@]}" -c "import sys, platform; print('python', sys.version.split()[0], platform.machine())"

# ---- aarch64 wheels of the test dependencies, unpacked into site ----
SITE=$W/site
if [ ! -d "$SITE/numpy" ]; then
  "$TOOLS/bin/pip" download -q --only-binary=:all: --platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64 \
    --platform manylinux_2_28_aarch64 --python-version 3.11 --implementation cp --abi cp311 \
    "numpy<2.3" pytest hypothesis "pycocotools==2.0.11" -d "$W/wheels" 2>&1 | grep -v WARNING || true
  mkdir -p "$SITE"
  for whl in "$W"/wheels/*.whl; do (cd "$SITE" && unzip -q -o "$whl"); done
fi
NPINC=$SITE/numpy/_core/include

# ---- fastrle for aarch64: the core as a static library, each extension ----
PKG=$W/pkg
rm -rf "$PKG" && mkdir -p "$PKG" "$W/obj"
cp -r src/fastrle "$PKG/fastrle"
find "$PKG/fastrle" -name '*.so' -delete -o -name '*.c' -delete
mkdir -p "$PKG/fastrle/kernels" && cp csrc/kernels/*.cuh "$PKG/fastrle/kernels/"
FLAGS=$(awk '/^\[/{sec=$0; next} sec=="[gcc]" && /^-/' build_flags.txt | tr '\n' ' ')
CC=aarch64-linux-gnu-gcc
export CC FLAGS W
printf '%s\n' csrc/*.c | xargs -P 2 -I{} sh -c '$CC $FLAGS -fPIC -c "$1" -o "$W/obj/$(basename "$1" .c).o"' _ {}
rm -f "$W/libfastrle_core.a" && aarch64-linux-gnu-ar rcs "$W/libfastrle_core.a" "$W"/obj/rle_*.o
SUFFIX=.cpython-311-aarch64-linux-gnu.so
export NPINC R SUFFIX PKG
ls "$OUT"/cython/src/fastrle/_*.c | xargs -P 2 -I{} sh -c \
  '$CC $FLAGS -fPIC -shared -DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION -I"$R/usr/include/python3.11" \
     -I"$R/usr/include/aarch64-linux-gnu/python3.11" -I"$R/usr/include" -I"$NPINC" -Icsrc "$1" "$W/libfastrle_core.a" -lpthread \
     -o "$PKG/fastrle/$(basename "$1" .c)$SUFFIX"' _ {}
ls "$PKG/fastrle/"*.so

# ---- the tests, under qemu ----
cd "$W"
QEMU_SET_ENV="$QEMU_SET_ENV,PYTHONPATH=$PKG:$SITE,PYTHONDONTWRITEBYTECODE=1" \
  "${PY[@]}" -c "import fastrle; print('fastrle', fastrle.__file__, 'parse kernel', fastrle.parse_isa())"
T=()
for t in $TESTS; do T+=("$ROOT/$t"); done
QEMU_SET_ENV="$QEMU_SET_ENV,PYTHONPATH=$PKG:$SITE,PYTHONDONTWRITEBYTECODE=1" \
  "${PY[@]}" -m pytest -q -p no:cacheprovider --rootdir "$ROOT" -c "$ROOT/pyproject.toml" "${T[@]}"
