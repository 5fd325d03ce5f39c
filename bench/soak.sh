#!/usr/bin/env bash
# Agent soak (issue 7): one real agent process, --deploys sequential deploys (default 1000) alternating two
# manifests under new serials; every --every deploys (default 100) its heap after a full GC (jcmd), open file
# descriptors and threads; after warm-up (the first --warmup deploys, default 300) both must stay within --tolerance %
# (default 10) of their lowest checkpoint. Prints the series and a SOAK {json} line; exit 0 flat, 1 not flat or a
# deploy failed, 2 over --max-seconds.
#   bench/soak.sh [--no-build] [--deploys 1000] [--every 100] [--warmup 300] [--tolerance 10] [--max-seconds 1800]
#                 [--work DIR] [--keep]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "$here/classpath.sh"
pinfleet_bench_java "" "$here/AgentSoak.java" "$@"
