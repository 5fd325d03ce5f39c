#!/usr/bin/env bash
# The install benchmark: pip against the pinfleet agent on a directory of real wheels.
#   bench/run.sh WHEELS_DIR REQUIREMENTS [--runs 5] [--change NAME] [--keep] ...   (--help for all options)
# Builds the jars first when they are missing. See bench/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
if [[ ! -f "$repo/controller/target/pinfleet.jar" || ! -f "$repo/agent/target/pinfleet-agent.jar" ]]; then
  echo "bench: building jars..." >&2
  (cd "$repo" && mvn -B -q -DskipTests package) >&2
fi
exec "${PINFLEET_BENCH_PYTHON:-python3}" "$here/bench.py" "$@"
