#!/usr/bin/env bash
# Check the C/C++/CUDA sources against .clang-format (csrc/, csrc/kernels/, tests/cuda_emu/):
#   scripts/check_format.sh          exit 1 and name the files clang-format would change
#   scripts/check_format.sh --fix    rewrite them in place (clang-format -i), then check
# Also checks the 120-column limit (clang-format keeps a few long tokens, such as strings).
# clang-format's output differs between major versions:
# use the one pinned in pyproject.toml's `lint` extra (pip install -e ".[lint]").
set -euo pipefail
cd "$(dirname "$0")/.."
CLANG_FORMAT=${CLANG_FORMAT:-clang-format}
MAX_COLS=120
want_major=$(sed -n 's/.*"clang-format==\([0-9]*\)\..*/\1/p' pyproject.toml | head -1)
have=$("$CLANG_FORMAT" --version 2>/dev/null) || { echo "check_format: $CLANG_FORMAT not found (pip install \"clang-format==$want_major.*\")" >&2; exit 2; }
have_major=$(printf '%s\n' "$have" | sed -n 's/.*version \([0-9]*\)\..*/\1/p')
if [ -n "$want_major" ] && [ "$have_major" != "$want_major" ]; then
  echo "check_format: warning: $have, but pyproject.toml pins clang-format $want_major; results may differ" >&2
fi

mapfile -t files < <(
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files --cached --others --exclude-standard -- \
      'csrc/*.c' 'csrc/*.h' 'csrc/**/*.c' 'csrc/**/*.h' 'csrc/kernels/*.cuh' \
      'tests/cuda_emu/*.h' 'tests/cuda_emu/*.cpp'
  else
    find csrc tests/cuda_emu -type f \( -name '*.c' -o -name '*.h' -o -name '*.cuh' -o -name '*.cpp' \)
  fi | sort -u)
[ "${#files[@]}" -gt 0 ] || { echo "check_format: no C sources found" >&2; exit 2; }

if [ "${1:-}" = "--fix" ]; then
  "$CLANG_FORMAT" -i "${files[@]}"
fi

status=0
changed=0
for f in "${files[@]}"; do
  n=$("$CLANG_FORMAT" "$f" | diff --unchanged-line-format= --old-line-format='%L' --new-line-format= "$f" - | wc -l || true)
  if [ "$n" -gt 0 ]; then
    echo "$f: clang-format would change $n line(s)"
    changed=$((changed + n))
    status=1
  fi
done
if [ "$status" -ne 0 ]; then
  # the first few diagnostics, in clang-format's own words
  "$CLANG_FORMAT" --dry-run --Werror "${files[@]}" 2>&1 | head -20 || true
  echo "check_format: $changed line(s) to change; run scripts/check_format.sh --fix"
fi
long=$(awk -v m="$MAX_COLS" 'length($0) > m { printf "%s:%d: %d columns (limit %d)\n", FILENAME, FNR, length($0), m }' "${files[@]}")
if [ -n "$long" ]; then
  printf '%s\n' "$long"
  status=1
fi
[ "$status" -eq 0 ] && echo "check_format: OK, ${#files[@]} files"
exit "$status"
