#!/usr/bin/env bash
# The fetch benchmark: the agent's download path over three HTTP clients (its plain-socket client, the JDK's
# HttpClient, Netty's HTTP client codec), the same wheels from the same loopback `pinfleet mirror serve`.
#   bench/fetch.sh WHEELS_DIR [--rounds 5] [--parallelism 8] [--work DIR] [--keep]
# Builds the jars first when they are missing. See bench/README.md.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(dirname "$here")"
usage() { sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-0}"; }
[[ $# -ge 1 && "$1" != "-h" && "$1" != "--help" ]] || usage 0
wheels="$1"; shift
rounds=5 parallelism=8 work="" keep=false
while [[ $# -gt 0 ]]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --parallelism) parallelism="$2"; shift 2 ;;
    --work) work="$2"; shift 2 ;;
    --keep) keep=true; shift ;;
    *) echo "fetch.sh: unknown option $1" >&2; usage 2 ;;
  esac
done
agent_jar="$repo/agent/target/pinfleet-agent.jar"
cli_jar="$repo/controller/target/pinfleet.jar"
if [[ ! -f "$agent_jar" || ! -f "$cli_jar" ]]; then
  echo "fetch.sh: building jars..." >&2
  (cd "$repo" && mvn -B -q -DskipTests package) >&2
fi
[[ -n "$work" ]] || work="$(mktemp -d /tmp/pinfleet-fetch-bench.XXXXXX)"
mkdir -p "$work"
mirror_pid=""
cleanup() {
  [[ -z "$mirror_pid" ]] || { kill "$mirror_pid" 2>/dev/null || true; wait "$mirror_pid" 2>/dev/null || true; }
  $keep || rm -rf "$work"
}
trap cleanup EXIT
pinfleet() { java -jar "$cli_jar" "$@"; }

mapfile -t files < <(find "$wheels" -name '*.whl' -type f | sort)
[[ ${#files[@]} -gt 0 ]] || { echo "fetch.sh: no .whl under $wheels" >&2; exit 2; }
echo "setting up a mirror of ${#files[@]} wheels in $work/mirror (not measured)..."
pinfleet mirror init --mirror "$work/mirror" >/dev/null
pinfleet mirror acknowledge --as bench --policy-version "$(cat "$work/mirror/policy/version")" --mirror "$work/mirror" >/dev/null
pinfleet mirror publish --mirror "$work/mirror" --as bench "${files[@]}" >/dev/null
java -jar "$cli_jar" mirror serve --mirror "$work/mirror" --port 0 --port-file "$work/mirror.port" >"$work/mirror.log" 2>&1 &
mirror_pid=$!
for _ in $(seq 1 600); do
  [[ -s "$work/mirror.port" ]] && break
  kill -0 "$mirror_pid" 2>/dev/null || { cat "$work/mirror.log" >&2; exit 1; }
  sleep 0.1
done
[[ -s "$work/mirror.port" ]] || { echo "fetch.sh: the mirror did not start within 60 s" >&2; exit 1; }
mkdir -p "$work/classes" "$work/stores"
javac -d "$work/classes" -cp "$agent_jar" "$here/FetchClients.java"
java -cp "$agent_jar:$work/classes" dev.pinfleet.agent.fetch.FetchClients "http://127.0.0.1:$(cat "$work/mirror.port")/" \
  "$work/mirror" "$work/stores" "$rounds" "$parallelism" "$mirror_pid"
