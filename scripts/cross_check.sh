#!/usr/bin/env bash
# Cross builds and emulated runs of the C core on this Linux x86-64 machine
# (.ci/run's cross step; see docs/install.md for the platform table):
#   aarch64-linux   csrc + csrc/tests with aarch64-linux-gnu-gcc, run under
#                   qemu-aarch64: the full C test (NEON parse checked against
#                   the scalar parse on 20,000 fuzzed strings, NEON decode
#                   fill against the reference decode), then each FRLE_ISA cap
#   x86_64-windows  the same with x86_64-w64-mingw32-gcc, run under wine
#                   (Win32 threads, the thread-start fallback, cpuid probe)
#   aarch64-macos,  csrc + csrc/tests compiled and linked with zig cc, and the
#   x86_64-macos    Cython-generated C of every extension compiled (this
#                   Python's headers, numpy's macOS headers): compile only
# Every C core build is -Wall -Wextra -Werror with build_flags.txt's [gcc]
# flags. Tools are installed here (apt for qemu, the cross gcc, mingw and
# wine; pip for ziglang, Cython, numpy's macOS headers). A tool that cannot be
# installed skips its platform with a SKIP line (CROSS_STRICT=1 makes that a
# failure); any build or test failure fails the script.
#   scripts/cross_check.sh [aarch64-linux] [x86_64-windows] [macos]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${CROSS_OUT:-$ROOT/build/cross}
TARGETS=${*:-"aarch64-linux x86_64-windows macos"}
mkdir -p "$OUT"
want() { case " $TARGETS " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
say() { printf '\n--- %s (%s)\n' "$*" "$(date -u +%H:%M:%S)"; }
declare -A RESULT
skip() {
  RESULT[$1]="SKIP ($2)"
  echo "SKIP $1: $2"
  [ -z "${CROSS_STRICT:-}" ] || { echo "CROSS_STRICT: a skip is a failure"; exit 1; }
}
FLAGS=$(awk '/^\[/{sec=$0; next} sec=="[gcc]" && /^-/' build_flags.txt | tr '\n' ' ')
WARN="-Wall -Wextra -Werror"

# ---- tools ----
apt_pkgs=()
want aarch64-linux && apt_pkgs+=(qemu-user gcc-aarch64-linux-gnu libc6-dev-arm64-cross make)
want x86_64-windows && apt_pkgs+=(mingw-w64 wine wine64 make)
missing=()
for p in "${apt_pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "apt-get install ${missing[*]}"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
      "${missing[@]}" >/dev/null) || echo "warning: apt-get failed; the platforms it serves will skip"
  else
    echo "warning: cannot apt-get install ${missing[*]} (not root or no apt); their platforms will skip"
  fi
fi
TOOLS=$OUT/tools-venv
if want macos; then
  # zig cc (with macOS libc headers), Cython, and numpy's macOS headers
  say "pip: ziglang, Cython, numpy macOS wheels"
  PY=${PYTHON:-python3}
  [ -x "$TOOLS/bin/python" ] || "$PY" -m venv "$TOOLS"
  "$TOOLS/bin/pip" install -q ziglang "Cython>=3" numpy || echo "warning: pip failed; macOS will skip"
fi

# ---- aarch64-linux: build, run under qemu ----
if want aarch64-linux; then
  say "aarch64-linux: build, run under qemu-aarch64"
  if command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null; then
    make -s -C csrc test CC=aarch64-linux-gnu-gcc BUILD="$OUT/aarch64-linux" CFLAGS="$FLAGS $WARN" \
      RUN="qemu-aarch64 -L /usr/aarch64-linux-gnu" ISAS="scalar avx2 neon" | tee "$OUT/aarch64-linux.log"
    grep -q "parse kernels: in use neon" "$OUT/aarch64-linux.log"
    grep -q "kernels: parse neon, decode fill neon (FRLE_ISA=)" "$OUT/aarch64-linux.log"
    RESULT[aarch64-linux]="PASS (built -Werror, C tests under qemu-aarch64, NEON parse and fill active)"
  else
    skip aarch64-linux "no aarch64-linux-gnu-gcc or qemu-aarch64"
  fi
fi

# ---- x86_64-windows: build with mingw-w64, run under wine ----
if want x86_64-windows; then
  say "x86_64-windows: build with mingw-w64, run under wine"
  if command -v x86_64-w64-mingw32-gcc >/dev/null && command -v wine >/dev/null; then
    export WINEPREFIX=$OUT/wineprefix WINEDEBUG=-all
    make -s -C csrc test CC=x86_64-w64-mingw32-gcc BUILD="$OUT/x86_64-windows" EXE=.exe LDLIBS= \
      CFLAGS="$FLAGS $WARN" RUN=wine ISAS="scalar sse41 avx2" 2>&1 | grep -v '^wine: ' | tee "$OUT/x86_64-windows.log"
    grep -q "test_core: all passed" "$OUT/x86_64-windows.log"
    grep -q "threads: default" "$OUT/x86_64-windows.log"
    RESULT[x86_64-windows]="PASS (built -Werror with mingw-w64, C tests under wine, Win32 threads)"
  else
    skip x86_64-windows "no x86_64-w64-mingw32-gcc or wine"
  fi
fi

# ---- macOS: compile (and link the C test) with zig cc ----
if want macos; then
  if [ -x "$TOOLS/bin/python" ] && "$TOOLS/bin/python" -m ziglang version >/dev/null 2>&1; then
    # the zig binary itself: one Python start less per file
    ZIGBIN=$("$TOOLS/bin/python" -c "import ziglang, os; print(os.path.join(os.path.dirname(ziglang.__file__), 'zig'))")
    ZIG=("$ZIGBIN" cc)
    PYINC=$("$TOOLS/bin/python" -c "import sysconfig; print(sysconfig.get_paths()['include'])")
    PYVER=$("$TOOLS/bin/python" -c "import sys; print(f'{sys.version_info[0]}.{sys.version_info[1]}')")
    # the Cython-generated C of every extension, as setup.py generates it
    say "cythonize (for the macOS compile)"
    "$TOOLS/bin/python" - "$OUT/cython" <<'PY'
import glob, sys
from Cython.Build import cythonize
cythonize(sorted(glob.glob("src/fastrle/_*.pyx")), build_dir=sys.argv[1], quiet=True,
          compiler_directives={"language_level": "3"})
PY
    for t in aarch64-macos x86_64-macos; do
      case $t in aarch64-*) plat=macosx_11_0_arm64 ;; *) plat=macosx_10_9_x86_64 ;; esac
      say "$t: C core + C test (compile, link), Cython C (compile)"
      d=$OUT/$t
      mkdir -p "$d/np"
      "$TOOLS/bin/pip" download -q --no-deps --only-binary=:all: --platform "$plat" --python-version "$PYVER" \
        numpy -d "$d/np" 2>&1 | grep -v WARNING || true
      (cd "$d/np" && unzip -q -o ./*.whl 'numpy/_core/include/*' 'numpy/core/include/*' 2>/dev/null || true)
      npinc=
      for i in "$d"/np/numpy/_core/include "$d"/np/numpy/core/include; do [ -d "$i" ] && npinc=${npinc:-$i}; done
      [ -n "$npinc" ] || { echo "error: no numpy macOS headers for $t"; exit 1; }
      # two compiles at a time; xargs fails if any does
      export ZIGBIN t d FLAGS WARN PYINC npinc
      printf '%s\n' csrc/*.c csrc/tests/test_core.c | xargs -P 2 -I{} sh -c \
        '"$ZIGBIN" cc -target "$t" $FLAGS $WARN -c "$1" -o "$d/$(basename "$1" .c).o"' _ {}
      "${ZIG[@]}" -target "$t" -o "$d/test_core" "$d"/rle_*.o "$d/test_core.o"
      file "$d/test_core" 2>/dev/null || true
      n=$(ls "$OUT"/cython/src/fastrle/_*.c | wc -l)
      ls "$OUT"/cython/src/fastrle/_*.c | xargs -P 2 -I{} sh -c \
        '"$ZIGBIN" cc -target "$t" $FLAGS -DNPY_NO_DEPRECATED_API=NPY_1_7_API_VERSION -I"$PYINC" -I"$npinc" -Icsrc \
           -c "$1" -o "$d/$(basename "$1" .c).ext.o"' _ {}
      echo "$t: C core and C test built, -Werror; $n Cython modules compiled"
      RESULT[$t]="PASS (zig cc: C core + C test compiled -Werror and linked; $n Cython modules compiled; not run)"
    done
  else
    skip aarch64-macos "no zig (pip install ziglang failed)"
    skip x86_64-macos "no zig (pip install ziglang failed)"
  fi
fi

say "cross check summary"
for k in "${!RESULT[@]}"; do printf '%-16s %s\n' "$k" "${RESULT[$k]}"; done | sort
