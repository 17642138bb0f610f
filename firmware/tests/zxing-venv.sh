#!/usr/bin/env bash
# Make target/zxing-venv, a venv with zxing-cpp from PyPI (a bar code decoder this project
# did not write, as a prebuilt wheel), unless it is there already; print its python. Run by
# the tests that read printed symbols back when the venv is missing, and by .ci/run; a lock
# keeps two test binaries from making it at once.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/target/zxing-venv"
mkdir -p "$root/target"
exec 9>"$root/target/zxing-venv.lock"
flock 9
if ! "$venv/bin/python" -c 'import zxingcpp, numpy' 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet 'zxing-cpp>=3.1,<4' 'numpy>=1.26' >&2
fi
echo "$venv/bin/python"
