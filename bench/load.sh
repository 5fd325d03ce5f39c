#!/usr/bin/env bash
# Fleet load (issue 7): N agents (default 50, in one JVM, each with its own root and loopback port) in one rollout
# by the real `pinfleet deploy` process. Prints nodes, batch settings, wall time, per-node deploy time
# median/p95/max, agent and controller threads, the exit code and a LOAD {json} line. See bench/README.md.
#   bench/load.sh [--no-build] [--nodes 50] [--canary 1] [--batch 25%] [--forks 50] [--max-failures 0]
#                 [--wheels 10] [--files 20] [--max-seconds 600] [--work DIR] [--keep]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/classpath.sh"
pinfleet_bench_java "" "$here/FleetLoad.java" "$@"
