#!/usr/bin/env bash
# Fleet simulator (issue 17, "10,000 nodes"): N hollow nodes (the real agent gRPC service with a simulated install,
# thousands in one JVM) and a real rollout over them by `pinfleet deploy` in a separate JVM, then `pinfleet status`
# of the whole fleet. Prints the figures and one SIM {json} line. See bench/README.md. The deploy and status run through
# the ./pinfleet launcher (the jar this script builds, its class-data sharing archive, the launcher's JVM options), as
# an operator runs them; with --no-build the jar may be stale, so they run from the class path unless --launcher is given.
#   bench/fleet-sim.sh [--no-build] --nodes N [--batch 10%] [--canary 1] [--forks 50] [--duration-ms 100]
#                      [--failure-rate 0] [--max-failures 0] [--seed 1] [--loopbacks 1] [--call-threads 2*forks]
#                      [--controller-heap 512m] [--max-seconds 1800] [--no-status] [--work DIR] [--keep]
#                      [--launcher PATH]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/classpath.sh"
# one listening socket per node in the simulator's JVM, plus the connections of the nodes in flight
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
# the simulator's JVM (FleetSim starts the controller in its own, with -Xmx512m)
launcher=()
if [[ " $* " != *" --no-build "* && " $* " != *" --launcher "* ]]; then
  launcher=(--launcher "$here/../pinfleet")
fi
pinfleet_bench_java "-Xmx3g" dev.pinfleet.controller.sim.FleetSimMain "$@" "${launcher[@]}"
