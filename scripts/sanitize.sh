#!/usr/bin/env bash
# Build the C core and the extension with AddressSanitizer + UBSan in a temp
# copy of the tree (the normal in-place build is left alone), then run
#   1. the C core's own test (csrc/tests/test_core.c), and
#   2. the Python test suite (a meaningful subset; see TESTS) against the
#      sanitized extension, with libasan preloaded into Python.
# Any ASan report or UB aborts with a nonzero exit. Budget: < 6 minutes on 2 cores.
#   scripts/sanitize.sh [extra pytest args]
# Env: CC (default gcc), KEEP=1 keeps the temp dir, SAN_TESTS overrides TESTS.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
CC="${CC:-gcc}"
TMP="$(mktemp -d /tmp/fastrle-san.XXXXXX)"
[ "${KEEP:-0}" = 1 ] || trap 'rm -rf "$TMP"' EXIT
SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer -g -O1"

echo "== copy tree to $TMP/repo (tracked + untracked, minus ignored build outputs)"
mkdir -p "$TMP/repo"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -xf - -C "$TMP/repo"

echo "== C core test under ASan+UBSan"
make -s -C "$TMP/repo/csrc" test BUILD="$TMP/cbuild" CC="$CC" EXTRA_CFLAGS="$SAN"

echo "== build the extension with ASan+UBSan"
(cd "$TMP/repo" && CC="$CC" FASTRLE_CFLAGS="$SAN" FASTRLE_LDFLAGS="-fsanitize=address,undefined" \
  python setup.py -q build_ext --inplace >"$TMP/build.log" 2>&1) || { tail -50 "$TMP/build.log"; exit 1; }

LIBASAN="$("$CC" -print-file-name=libasan.so)"
export LD_PRELOAD="$LIBASAN"
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:halt_on_error=1:allocator_may_return_null=1:verify_asan_link_order=0"
export UBSAN_OPTIONS="halt_on_error=1:abort_on_error=1:print_stacktrace=1"
export PYTHONPATH="$TMP/repo/src${PYTHONPATH:+:$PYTHONPATH}"
export FASTRLE_SANITIZED=1
# smaller bounded profiles: the sanitized build is slower
export FASTRLE_FUZZ_EXAMPLES="${FASTRLE_FUZZ_EXAMPLES:-120}"
export FASTRLE_MALFORMED_CASES="${FASTRLE_MALFORMED_CASES:-3000}"
export FASTRLE_STRESS_ITERS="${FASTRLE_STRESS_ITERS:-300}"

cd "$TMP/repo"
python - <<'PY'
import fastrle._core as c, os, sys
assert c.__file__.startswith(os.environ["PYTHONPATH"].split(":")[0]), c.__file__
assert "libasan" in open("/proc/self/maps").read(), "libasan is not loaded"
assert b"__asan_report" in open(c.__file__, "rb").read(), "extension is not instrumented"
assert b"__ubsan_handle" in open(c.__file__, "rb").read(), "extension is not UBSan-instrumented"
print("sanitized extension:", c.__file__)
PY

TESTS="${SAN_TESTS:-tests/test_fuzz_differential.py tests/test_fuzz_malformed.py tests/test_stress_threads.py tests/test_viz.py
  tests/test_large_sizes.py tests/test_native.py tests/test_mask_dropin.py tests/test_invalid.py
  tests/test_threads.py tests/test_c_core.py}"
SEL=()
for t in $TESTS; do [ -f "$t" ] && SEL+=("$t"); done
echo "== pytest under ASan+UBSan: ${SEL[*]}"
python -m pytest -q -p no:cacheprovider "${SEL[@]}" "$@"
echo "== sanitizers clean"
