#!/usr/bin/env bash
# Make target/stripe-venv, a venv with the official stripe-python from PyPI (pinned: the
# version whose API version the network answers in), unless it is there already; print its
# python. Run by tests/it/network.rs when the venv is missing, and by .ci/run; a lock keeps
# two test binaries from making it at once.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
venv="$root/target/stripe-venv"
mkdir -p "$root/target"
exec 9>"$root/target/stripe-venv.lock"
flock 9
if ! "$venv/bin/python" -c 'import stripe, sys; sys.exit(stripe.VERSION != "16.1.0")' 2>/dev/null; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet 'stripe==16.1.0' >&2
fi
echo "$venv/bin/python"
