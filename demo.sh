#!/usr/bin/env bash
# The main job in one command: real deploys to a local fleet of three agents, each a record in the controller's
# history.
#
#  1. builds the jars (first run only)
#  2. creates a signing key
#  3. fills a mirror with real wheels packed from the distributions installed in this machine's Python, plus the
#     demo's own application code as a wheel (demo-app 1.0)
#  4. starts the mirror and three agents on loopback, each with its own root
#  5. freezes the pins against the mirror, signs the manifest, deploys it, prints the report
#  6. shows that each node's `current/bin/python` imports the installed packages
#  7. publishes demo-app 1.1, changes that one pin, deploys again; rolls back; prints `pinfleet history`
#
# The deploys go through the controller embedded in `pinfleet`: its records are in $work/.pinfleet/, so afterwards
# `cd demo-run && ../pinfleet history --app demo --json` lists them.
# Everything lives under $PINFLEET_DEMO_DIR (default ./demo-run), which is recreated on each run.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="$(realpath -m "${PINFLEET_DEMO_DIR:-$here/demo-run}")"
# Java 17, Maven, Python 3 with venv: installed here when run as root on Debian/Ubuntu, otherwise named with the one
# command that installs them.
"$here/install-deps.sh" --check demo 2>/dev/null || "$here/install-deps.sh" demo
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
pinfleet() { "$here/pinfleet" "$@"; }  # the launcher: the build's CDS archive, start-up flags

rm -rf "$work"; mkdir -p "$work"/{keys,trusted,mirror,logs}
mkdir -m 0700 "$work/.pinfleet"  # the demo's own records, whatever .pinfleet/ a directory above may hold
cd "$work"

say "keys"
pinfleet keygen keys/release
cp keys/release.pub trusted/

say "mirror: pack the distributions installed in $("$python" -c 'import sys; print(sys.executable)') into wheels"
site="$("$python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
pinfleet mirror init --mirror mirror
pinfleet mirror acknowledge --mirror mirror --as demo --policy-version "$(cat mirror/policy/version)"
pinfleet mirror import-venv "$site" --mirror mirror --as demo --all -o requirements.txt
# The application's own code, as a wheel the demo builds (RECORD hashes and all), pinned like every other package.
app_wheel() { # VERSION
  "$python" - "$1" wheels <<'PY'
import base64, hashlib, os, sys, zipfile
version, out = sys.argv[1], sys.argv[2]
dist = "demo_app-%s.dist-info" % version
files = {
    "demo_app/__init__.py": 'VERSION = "%s"\n' % version,
    dist + "/METADATA": "Metadata-Version: 2.1\nName: demo-app\nVersion: %s\nSummary: the demo's application code\n" % version,
    dist + "/WHEEL": "Wheel-Version: 1.0\nGenerator: pinfleet-demo\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
}
record = []
for path, text in files.items():
    digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
    record.append("%s,sha256=%s,%d" % (path, digest, len(text.encode())))
files[dist + "/RECORD"] = "\n".join(record + [dist + "/RECORD,,"]) + "\n"
os.makedirs(out, exist_ok=True)
wheel = os.path.join(out, "demo_app-%s-py3-none-any.whl" % version)
with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
    for path, text in files.items():
        z.writestr(path, text)
print(wheel)
PY
}
pinfleet mirror publish "$(app_wheel 1.0)" --mirror mirror --as demo
echo "demo-app==1.0" >> requirements.txt
echo "$(grep -c '==' requirements.txt) pins, $(du -sh mirror/packages | cut -f1) of wheels"

say "start the mirror and $nodes agents on loopback"
java -jar "$here/controller/target/pinfleet.jar" mirror serve --mirror mirror --port 0 --port-file mirror.port \
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

pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
since() { "$python" -c "import sys,time; print('%.1f' % (time.time() - float(sys.argv[1])))" "$1"; }

say "freeze, sign, verify"
pinfleet freeze requirements.txt --mirror "$mirror_url" --app demo -o manifest.json --python "$pyver"
pinfleet sign manifest.json --key keys/release.key -o manifest.signed.json
pinfleet verify manifest.signed.json --trusted trusted

say "deploy (through the controller embedded in pinfleet: records in $work/.pinfleet/)"
deploy_start=$(now)
pinfleet deploy manifest.signed.json --inventory inventory.ini --plaintext --trusted trusted --report report.json \
  --message "first release: every package of this machine's Python, demo-app 1.0"
deploy_s=$(since "$deploy_start")

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

say "change one pin: demo-app 1.0 -> 1.1, freeze, sign, deploy again"
pinfleet mirror publish "$(app_wheel 1.1)" --mirror mirror --as demo
sed -i 's/^demo-app==1.0$/demo-app==1.1/' requirements.txt
pinfleet freeze requirements.txt --mirror "$mirror_url" --app demo -o manifest-2.json --python "$pyver"
pinfleet sign manifest-2.json --key keys/release.key -o manifest-2.signed.json
again_start=$(now)
pinfleet deploy manifest-2.signed.json --inventory inventory.ini --plaintext --trusted trusted --report report-2.json \
  --message "demo-app 1.1"
again_s=$(since "$again_start")

say "roll back to the release before (kept on every node: no download)"
rollback_start=$(now)
pinfleet rollback --app demo --inventory inventory.ini --plaintext --key keys/release.key --trusted trusted \
  -o rollback.signed.json --message "back to demo-app 1.0"
rollback_s=$(since "$rollback_start")
for i in $(seq 1 "$nodes"); do
  "$work/node$i/apps/demo/current/bin/python" -c 'import demo_app, sys; print(sys.argv[1], "runs demo-app", demo_app.VERSION)' "node$i"
done

say "pinfleet history (afterwards: cd $(basename "$work") && ../pinfleet history --app demo --json)"
pinfleet history --app demo

total_s=$(since "$start_s")
say "done: first deploy took ${deploy_s} s, the one-pin change ${again_s} s, the rollback ${rollback_s} s; whole demo ${total_s} s; files in $work"
