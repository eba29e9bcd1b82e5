#!/usr/bin/env bash
# Set-up time from a fresh clone, as a new user meets it: clone COMMIT of this repository into a
# temporary folder and time `make venv` with empty pip and uv caches (everything downloaded).
# Usage: benchmarks/setup_time.sh COMMIT      (prints the seconds `make venv` took)
# Two commits side by side, alternated (pairs keep the ratio meaningful on a busy machine):
#   farm-bench -n 3 --warmup 0 --timeout 1800 --vs 'benchmarks/setup_time.sh OLD' -- benchmarks/setup_time.sh NEW
set -euo pipefail
commit=${1:?a commit of this repository}
repo=$(git -C "$(dirname "$0")" rev-parse --show-toplevel)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git clone --quiet "$repo" "$work/clone"
git -C "$work/clone" checkout --quiet "$commit"
export PIP_CACHE_DIR="$work/pip-cache" UV_CACHE_DIR="$work/uv-cache"
start=$(date +%s.%N)
make -C "$work/clone" venv >/dev/null 2>&1
end=$(date +%s.%N)
echo "$commit make venv: $(echo "$end - $start" | bc) s"
