#!/usr/bin/env bash
# Run every malformed-input case against ESRUN and print a pass/fail summary.
# Usage: tests/malformed/run_all.sh ESRUN [PATTERN]   (PATTERN: a glob on case names, default *)
set -u
if [ $# -lt 1 ]; then
  echo "usage: $0 ESRUN [PATTERN]" >&2
  exit 2
fi
esrun=$1
pattern=${2:-*}
here=$(cd "$(dirname "$0")" && pwd)
pass=0
fail=0
failed=()
for case in "$here"/cases/$pattern.yaml; do
  [ -e "$case" ] || continue
  if python3 "$here/run_case.py" "$esrun" "$case"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    failed+=("$(basename "$case" .yaml)")
  fi
done
echo
echo "malformed inputs: $pass passed, $fail failed, $((pass + fail)) in all"
for name in "${failed[@]}"; do
  echo "  FAILED $name"
done
[ "$fail" -eq 0 ]
