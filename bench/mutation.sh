#!/usr/bin/env bash
# Mutation testing (issue 18) with PIT, one run per package: the RUNS table below names, per package where a
# surviving mutant means an attack gets through, the classes PIT mutates and the fast in-process unit tests that must
# kill them (never the end-to-end tests that start agents, pip or nginx: PIT runs every covering test once per mutant).
# Too slow for every CI run. Each run's report lands in MODULE/target/pit-reports/RUN/ (mutations.xml, index.html,
# wall.txt); at the end the table of all runs that have a report, with their survivors, is written into
# docs/mutation.md between its `mutation.sh` markers, each survivor with its reason from bench/mutation-survivors.txt.
#   bench/mutation.sh [--threads N] [RUN|MODULE ...]     e.g. agent/fetch, or mirror (all of its runs); default: all
#   bench/mutation.sh --report                           rewrites docs/mutation.md from the reports already there
# Exit status: 1 when a run's build broke (the other runs still run), 2 on a bad argument.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."

# run name | mutated classes | tests that may kill them (comma-separated PIT globs) | test classes left out
#   | classes left unmutated (code protoc generates into the package: its tests are protobuf's, not ours)
RUNS=(
  "proto/trust|dev.pinfleet.trust.*|dev.pinfleet.trust.*|"
  "proto/manifest|dev.pinfleet.manifest.*|dev.pinfleet.manifest.*|"
  "proto/wheel|dev.pinfleet.wheel.*|dev.pinfleet.wheel.*|"
  "proto/archive|dev.pinfleet.archive.*|dev.pinfleet.archive.*|"
  "proto/fs|dev.pinfleet.fs.*|dev.pinfleet.fs.*|"
  "mirror/serve|dev.pinfleet.mirror.serve.RequestTarget*,dev.pinfleet.mirror.serve.ByteRange*,dev.pinfleet.mirror.serve.UploadTokens*|dev.pinfleet.mirror.serve.RequestTargetTest,dev.pinfleet.mirror.serve.ByteRangeTest,dev.pinfleet.mirror.serve.UploadTokensTest|"
  "mirror/handler|dev.pinfleet.mirror.serve.MirrorHandler*|dev.pinfleet.mirror.serve.MirrorServerTest|"
  "mirror/publish|dev.pinfleet.mirror.publish.*|dev.pinfleet.mirror.publish.*,dev.pinfleet.mirror.policy.SignOffTest|"
  "agent/tls|dev.pinfleet.agent.tls.*|dev.pinfleet.agent.tls.*|"
  "agent/fs|dev.pinfleet.agent.fs.*|dev.pinfleet.agent.fs.*|"
  "agent/deploy|dev.pinfleet.agent.deploy.VerifyStep*,dev.pinfleet.agent.deploy.SwitchStep*|dev.pinfleet.agent.deploy.VerifyStepTest,dev.pinfleet.agent.deploy.SwitchStepTest|"
  "agent/fetch|dev.pinfleet.agent.fetch.*|dev.pinfleet.agent.fetch.*|"
  "agent/install|dev.pinfleet.agent.install.*|dev.pinfleet.agent.install.*|dev.pinfleet.agent.install.RealPipTest,dev.pinfleet.agent.install.TarEntryLimitTest|dev.pinfleet.agent.install.Release,dev.pinfleet.agent.install.Release\$*,dev.pinfleet.agent.install.ReleaseMarker*,dev.pinfleet.agent.install.InstalledArtifact*"
)

threads=1
report_only=false
selected=()
while (($#)); do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --report) report_only=true; shift ;;
    -h|--help) sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *)
      match=false
      for run in "${RUNS[@]}"; do
        name="${run%%|*}"
        if [[ "$name" == "$1" || "${name%%/*}" == "$1" ]]; then selected+=("$run"); match=true; fi
      done
      $match || { echo "mutation.sh: unknown run $1 (modules proto, mirror, agent, or MODULE/PACKAGE from the RUNS table)" >&2; exit 2; }
      shift ;;
  esac
done
$report_only || ((${#selected[@]})) || selected=("${RUNS[@]}")

status=0
start=$(date +%s)
if ! $report_only; then
  for run in "${selected[@]}"; do
    IFS='|' read -r name classes tests excluded unmutated <<<"$run"
    module="${name%%/*}"
    skips=()
    for m in proto mirror agent; do [[ "$m" == "$module" ]] || skips+=("-Dpit.skip.$m=true"); done
    out="$module/target/pit-reports/${name#*/}"
    rm -rf "$out"
    mkdir -p "$out"
    echo "== $name: $classes" >&2
    t0=$(date +%s)
    if mvn -B -P mutation -pl "$module" -am test-compile org.pitest:pitest-maven:mutationCoverage \
        -Dpit.run="${name#*/}" -Dpit.threads="$threads" -Dpit.targetClasses="$classes" -Dpit.targetTests="$tests" \
        ${excluded:+-Dpit.excludedTestClasses="$excluded"} ${unmutated:+-DexcludedClasses="$unmutated"} "${skips[@]}" >"$out.log" 2>&1; then
      echo "$(($(date +%s) - t0)) $threads" >"$out/wall.txt"
    else
      status=1
      echo "mutation.sh: $name failed, see $out.log" >&2
      tail -n 30 "$out.log" >&2
    fi
  done
fi
total=$(($(date +%s) - start))

names=()
for run in "${RUNS[@]}"; do names+=("${run%%|*}"); done
python3 - "$total" "${#selected[@]}" "${#RUNS[@]}" "$threads" "${names[@]}" <<'PY'
import collections, os, re, sys
import xml.etree.ElementTree as ET
total, ran, all_runs, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
runs = sys.argv[5:]
reasons = {}
with open("bench/mutation-survivors.txt") as f:
    for line in f:
        if line.strip() and not line.startswith("#"):
            key, _, why = line.rstrip("\n").partition("  ")
            reasons[key.strip()] = why.strip()
rows, survivors, missing = [], [], []
for name in runs:
    module, package = name.split("/")
    report = os.path.join(module, "target", "pit-reports", package, "mutations.xml")
    wall = os.path.join(module, "target", "pit-reports", package, "wall.txt")
    if not os.path.exists(report):
        missing.append(name)
        continue
    if os.path.exists(wall):
        seconds, run_threads = open(wall).read().split()
        root = ET.parse(report).getroot()
        took = f"{seconds} s ({run_threads} thread{'s' if run_threads != '1' else ''})"
    else:  # PIT writes mutations.xml as it goes: the mutants analysed so far of a run that did not end
        done = re.findall(r"<mutation .*?</mutation>", open(report).read(), flags=re.S)
        root = ET.fromstring("<mutations>" + "".join(done) + "</mutations>")
        took = "**unfinished**: the mutants analysed so far"
    c = collections.Counter()
    for m in root:
        status = m.get("status")
        c[status] += 1
        if status in ("SURVIVED", "NO_COVERAGE"):
            cls = m.findtext("mutatedClass")
            key = (f"{cls.rsplit('.', 1)[-1].split('$')[0]}:{m.findtext('lineNumber')} "
                   f"{m.findtext('mutator').rsplit('.', 1)[-1]}")
            survivors.append((name, key, status, m.findtext("mutatedMethod"), m.findtext("description")))
    mutants = sum(c.values())
    killed = c["KILLED"] + c["TIMED_OUT"] + c["MEMORY_ERROR"] + c["RUN_ERROR"]
    score = 100.0 * killed / mutants if mutants else 100.0
    rows.append(f"| {name} | {mutants} | {killed} | {c['TIMED_OUT']} | {c['SURVIVED']} | {c['NO_COVERAGE']} "
                f"| **{score:.1f} %** | {took} |")
lines = ["| run (module/package) | mutants | killed | of which timed out | survived | no coverage | score | wall time |",
         "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |", *rows, ""]
if missing:
    lines += [f"No report for: {', '.join(missing)}.", ""]
if ran == all_runs:
    lines += [f"The whole `bench/mutation.sh` (all {all_runs} runs, each with its Maven start and compile check): "
              f"{total} s wall, {threads} PIT thread(s), {os.cpu_count()} cores shared with other builds.", ""]
lines += [f"Survivors ({len(survivors)}), each with the reason it lives (`bench/mutation-survivors.txt`):", ""]
unexplained = 0
for name, key, status, method, description in survivors:
    why = reasons.get(key)
    unexplained += why is None
    lines.append(f"- `{key}` ({name}, {method}, {status.lower().replace('_', ' ')}: {description}) — "
                 f"{why or '**not explained yet**'}")
text = "\n".join(lines)
print(text)
doc = "docs/mutation.md"
body = open(doc).read()
begin, end = "<!-- mutation.sh: begin (generated) -->", "<!-- mutation.sh: end -->"
body = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: f"{begin}\n{text}\n{end}", body, flags=re.S)
open(doc, "w").write(body)
print(f"\n{doc} updated; {unexplained} survivor(s) without a reason", file=sys.stderr)
PY
exit "$status"
