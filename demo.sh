#!/usr/bin/env bash
# The main job in one command: a real deploy to a local fleet of three agents.
#
#  1. builds the jars (first run only)
#  2. creates a signing key
#  3. fills a mirror with real wheels packed from the distributions installed in this machine's Python
#  4. starts the mirror and three agents on loopback, each with its own root
#  5. freezes the pins against the mirror, signs the manifest, deploys it, prints the report
#  6. shows that each node's `current/bin/python` imports the installed packages
#
# Everything lives under $PINFLEET_DEMO_DIR (default ./demo-run), which is recreated on each run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(realpath -m "${PINFLEET_DEMO_DIR:-$here/demo-run}")"
python="${PINFLEET_PYTHON:-python3}"
nodes=3
now() { "$python" -c "import time; print(time.time())"; }
start_s=$(now)

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; }
trap cleanup EXIT

wait_for_file() { # FILE PID WHAT
  for _ in $(seq 1 300); do
    [[ -s "$1" ]] && return 0
    kill -0 "$2" 2>/dev/null || { echo "demo: $3 exited early; its log:" >&2; cat "$4" >&2; exit 1; }
    sleep 0.1
  done
  echo "demo: $3 did not start within 30 s; its log:" >&2; cat "$4" >&2; exit 1
}

say "build"
if [[ ! -f "$here/controller/target/pinfleet.jar" || ! -f "$here/agent/target/pinfleet-agent.jar" ]]; then
  (cd "$here" && mvn -B -q -DskipTests package)
fi
pinfleet() { java -jar "$here/controller/target/pinfleet.jar" "$@"; }

rm -rf "$work"; mkdir -p "$work"/{keys,trusted,mirror,logs}
cd "$work"

say "keys"
pinfleet keygen keys/release
cp keys/release.pub trusted/

say "mirror: pack the distributions installed in $("$python" -c 'import sys; print(sys.executable)') into wheels"
site="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
pinfleet mirror init mirror
pinfleet mirror acknowledge mirror --as demo --policy-version "$(cat mirror/policy/version)"
pinfleet mirror import-venv "$site" --mirror mirror --as demo --all -o requirements.txt
echo "$(grep -c '==' requirements.txt) pins, $(du -sh mirror/packages | cut -f1) of wheels"

say "start the mirror and $nodes agents on loopback"
java -jar "$here/controller/target/pinfleet.jar" mirror serve mirror --port 0 --port-file mirror.port \
  > logs/mirror.log 2>&1 & pids+=($!)
wait_for_file mirror.port $! mirror logs/mirror.log
mirror_url="http://127.0.0.1:$(cat mirror.port)/"
echo "mirror at $mirror_url"
echo "[web]" > inventory.ini
for i in $(seq 1 "$nodes"); do
  java -jar "$here/agent/target/pinfleet-agent.jar" --node "node$i" --root "$work/node$i" \
    --listen 127.0.0.1:0 --plaintext true --trusted-keys trusted --mirrors "$mirror_url" \
    --python "$python" --port-file "node$i.port" > "logs/node$i.log" 2>&1 & pids+=($!)
done
for i in $(seq 1 "$nodes"); do
  wait_for_file "node$i.port" "${pids[$i]}" "agent node$i" "logs/node$i.log"
  echo "node$i ansible_host=127.0.0.1 pinfleet_agent_port=$(cat "node$i.port")" >> inventory.ini
done
cat inventory.ini

say "freeze, sign, verify"
pinfleet freeze requirements.txt --mirror "$mirror_url" --app demo -o manifest.json \
  --python "$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
pinfleet sign manifest.json --key keys/release.key -o manifest.signed.json
pinfleet verify manifest.signed.json --trusted trusted

say "deploy"
deploy_start=$(now)
pinfleet deploy manifest.signed.json --inventory inventory.ini --plaintext --report report.json
deploy_s=$("$python" -c "import sys,time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$deploy_start")

say "check: report sha256 values against sha256sum of the mirror's files"
"$python" - report.json mirror <<'PY'
import json, subprocess, sys, os
report = json.load(open(sys.argv[1]))
want = {}
for line in subprocess.run(["sh", "-c", "cd %s && find packages -type f -print0 | xargs -0 sha256sum" % sys.argv[2]],
                           capture_output=True, text=True, check=True).stdout.splitlines():
    digest, path = line.split(None, 1)
    want[os.path.basename(path)] = digest
checked = 0
for node in report["nodes"]:
    for a in node["report"]["artifacts"]:
        if want.get(a["filename"]) != a["sha256"]:
            sys.exit("MISMATCH on %s: %s reported %s, sha256sum says %s" % (node["node"], a["filename"], a["sha256"], want.get(a["filename"])))
        checked += 1
print("%d sha256 values in the report equal sha256sum of the mirror's files" % checked)
PY

say "check: each node's current/bin/python imports what was installed"
for i in $(seq 1 "$nodes"); do
  "$work/node$i/apps/demo/current/bin/python" - "node$i" "$(readlink "$work/node$i/apps/demo/current")" <<'PY'
import importlib, importlib.metadata as md, sys
dists = {d.metadata["Name"].lower() for d in md.distributions()}
wanted = [("flask", "flask"), ("requests", "requests"), ("pyyaml", "yaml"), ("jinja2", "jinja2"), ("numpy", "numpy")]
imported = []
for dist, module in wanted:
    if dist in dists:
        importlib.import_module(module)  # an ImportError here fails the demo
        imported.append("%s %s" % (module, md.version(dist)))
print("%s (release %s): %d distributions installed; import %s: ok; python %s" % (
    sys.argv[1], sys.argv[2], len(dists), ", ".join(imported) or "-", sys.executable))
PY
done

total_s=$("$python" -c "import sys,time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$start_s")
say "done: deploy took ${deploy_s} s, whole demo ${total_s} s; files in $work"
