#!/usr/bin/env bash
# Mutation testing (issue 18) with PIT: the `mutation` profile of proto, mirror and agent names the packages where a
# surviving mutant means an attack gets through, and the fast in-process tests that must kill them (see
# docs/mutation.md). Too slow for every CI run. Prints per package: mutants, killed, survived, no coverage, score,
# then every surviving and uncovered mutant (file:line, mutator, what it changed), and the wall time.
#   bench/mutation.sh [--threads N] [--incremental] [MODULE...]     MODULE: proto, mirror, agent (default: all three)
#   extra Maven options after `--`, e.g. -- -Dpit.targetClasses='dev.pinfleet.agent.fetch.*' (narrows one module's run)
# --incremental keeps PIT's history in target/pit-history.bin of each module (re-runs only what changed).
# Reports: MODULE/target/pit-reports/{index.html,mutations.xml}. Exit status: Maven's (1 when the build broke).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$here/.."
threads=2
modules=()
extra=()
while (($#)); do
  case "$1" in
    --threads) threads="$2"; shift 2 ;;
    --incremental) extra+=("-DhistoryInputFile=target/pit-history.bin"
                            "-DhistoryOutputFile=target/pit-history.bin"); shift ;;
    --) shift; extra+=("$@"); break ;;
    proto|mirror|agent) modules+=("$1"); shift ;;
    *) echo "mutation.sh: unknown argument $1 (modules: proto mirror agent)" >&2; exit 2 ;;
  esac
done
((${#modules[@]})) || modules=(proto mirror agent)
pl="$(IFS=,; echo "${modules[*]}")"
skips=()
for m in proto mirror agent; do
  [[ " ${modules[*]} " == *" $m "* ]] || skips+=("-Dpit.skip.$m=true")
done
start=$(date +%s)
status=0
mvn -B -P mutation -pl "$pl" -am test-compile org.pitest:pitest-maven:mutationCoverage \
    -Dpit.threads="$threads" "${skips[@]}" "${extra[@]}" || status=$?
end=$(date +%s)
python3 - "$((end - start))" "$threads" "${modules[@]}" <<'PY'
import collections, os, sys
import xml.etree.ElementTree as ET
seconds, threads, modules = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
print(f"\nMUTATION {', '.join(modules)}: {seconds} s wall, {threads} PIT threads, {os.cpu_count()} cores")
print(f"{'package':42} {'mutants':>7} {'killed':>7} {'survived':>8} {'no cov':>7} {'score':>6}")
survivors = []
for module in modules:
    report = os.path.join(module, "target", "pit-reports", "mutations.xml")
    if not os.path.exists(report):
        print(f"{module}: no report ({report})")
        continue
    by_package = collections.defaultdict(collections.Counter)
    for m in ET.parse(report).getroot():
        cls = m.findtext("mutatedClass")
        package = cls.rsplit(".", 1)[0]
        status = m.get("status")
        by_package[package][status] += 1
        if status in ("SURVIVED", "NO_COVERAGE"):
            survivors.append(f"{status:11} {package}.{m.findtext('sourceFile')}:{m.findtext('lineNumber')} "
                             f"{m.findtext('mutatedMethod')} {m.findtext('mutator').rsplit('.', 1)[-1]}: "
                             f"{m.findtext('description')}")
    for package, c in sorted(by_package.items()):
        total = sum(c.values())
        killed = c["KILLED"] + c["TIMED_OUT"] + c["MEMORY_ERROR"] + c["RUN_ERROR"]
        print(f"{package:42} {total:7} {killed:7} {c['SURVIVED']:8} {c['NO_COVERAGE']:7} "
              f"{100.0 * killed / total:5.1f}%")
print(f"\n{len(survivors)} surviving or uncovered mutants")
for s in survivors:
    print(" ", s)
PY
exit "$status"
