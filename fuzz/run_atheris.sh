#!/usr/bin/env bash
# Bounded coverage-guided fuzzing of fastrle's Cython entry points.
#   fuzz/run_atheris.sh SECONDS [extra libFuzzer flags, e.g. -runs=1000000]
# Needs: pip install atheris (the manylinux wheel; no clang needed), the
# fastrle extension built (pip install --no-build-isolation -e .), pycocotools.
# Corpus: fuzz/corpus/ (git-ignored, kept between runs). Findings are written
# to $FASTRLE_FUZZ_ARTIFACTS (default: a temp dir) and make this script fail.
set -euo pipefail
SECONDS_BUDGET="${1:-60}"
shift || true
HERE="$(cd "$(dirname "$0")" && pwd)"
CORPUS="${FASTRLE_FUZZ_CORPUS:-$HERE/corpus}"
ART="${FASTRLE_FUZZ_ARTIFACTS:-$(mktemp -d)}"
mkdir -p "$CORPUS" "$ART"
python -c "import atheris" 2>/dev/null || { echo "atheris is not installed: pip install atheris" >&2; exit 2; }
LOG="$ART/atheris.log"
set +e
python "$HERE/fuzz_rle.py" "$CORPUS" -max_total_time="$SECONDS_BUDGET" -max_len=512 -timeout=10 \
  -rss_limit_mb=3072 -artifact_prefix="$ART/" -print_final_stats=1 "$@" 2>&1 \
  | grep -v '^INFO: Instrumenting' | tee "$LOG" | grep -E 'Done|ERROR|Uncaught|Error|exec/s|stat::number_of_executed_units' | tail -n 8
RC=${PIPESTATUS[0]}
set -e
EXECS=$(grep -Eo 'stat::number_of_executed_units: *[0-9]+' "$LOG" | grep -Eo '[0-9]+$' || echo "?")
echo "atheris: rc=$RC executions=$EXECS log=$LOG"
if [ "$RC" != 0 ] || ls "$ART"/crash-* "$ART"/timeout-* "$ART"/oom-* >/dev/null 2>&1; then
  echo "atheris found a problem; artifacts in $ART:" >&2
  ls -l "$ART" >&2
  tail -n 40 "$LOG" >&2
  exit 1
fi
