# Sourced by bench/load.sh, bench/soak.sh and bench/fleet-sim.sh: writes to the file "$1" the class path of the controller's tests (the
# pinfleet CLI, the agent, and the agent's test harness: TestFleet, FakeMirror, TestWheels, AgentProcess).
#   pinfleet_test_classpath FILE [--no-build]
# Builds the modules first (mvn package, tests skipped); with --no-build only the controller is compiled and the
# other modules come from the local Maven repository (as `mvn install` left them). Extra Maven options, e.g. -o for
# offline: PINFLEET_MVN_ARGS.
pinfleet_test_classpath() {
  local out="$1" build="${2:-}" repo
  repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  # shellcheck disable=SC2086
  if [[ "$build" == "--no-build" ]]; then
    (cd "$repo" && mvn -B -q ${PINFLEET_MVN_ARGS:-} -pl controller test-compile dependency:build-classpath \
      -Dmdep.includeScope=test -Dmdep.outputFile="$out") >&2
  else
    echo "building (mvn package, tests skipped)..." >&2
    (cd "$repo" && mvn -B -q ${PINFLEET_MVN_ARGS:-} -DskipTests -pl controller -am package dependency:build-classpath \
      -Dmdep.includeScope=test -Dmdep.outputFile="$out") >&2
  fi
  printf '%s:%s:%s' "$repo/controller/target/classes" "$repo/controller/target/test-classes" "$(cat "$out")" > "$out"
}

# Runs `java [JVM options] MAIN ARGS` on the controller's test class path, built as above; takes --no-build out of ARGS.
#   pinfleet_bench_java "JVM options" MAIN ARGS...   (MAIN: a class name, or a single-file source in bench/)
pinfleet_bench_java() {
  local jvm="$1" main="$2" build="" cpfile
  shift 2
  local args=()
  for a in "$@"; do
    if [[ "$a" == "--no-build" ]]; then build="--no-build"; else args+=("$a"); fi
  done
  cpfile="$(mktemp)"
  pinfleet_test_classpath "$cpfile" "$build"
  local cp
  cp="$(cat "$cpfile")"
  rm -f "$cpfile"
  # shellcheck disable=SC2086
  java $jvm -cp "$cp" "$main" "${args[@]}"
}
