#!/usr/bin/env bash
# Makes the CLI's class-data sharing archive (AppCDS) at package time:
#   archive.sh JAR ARCHIVE
# Runs the short commands an operator runs many times a day (--version, --help, keygen, freeze, sign, verify, a
# rollout's --help, certs, history, status and plan) against a one-wheel mirror in a temporary directory, each with -XX:DumpLoadedClassList, then dumps
# the classes they loaded into ARCHIVE (-Xshare:dump). The `pinfleet` launcher uses ARCHIVE when it is newer than JAR
# and falls back to plain class loading otherwise; the JVM itself refuses an archive made from other jar bytes or by
# another JVM build. See README.md ("Start-up").
set -euo pipefail
jar="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
archive="$(cd "$(dirname "$2")" && pwd)/$(basename "$2")"
java="${JAVA_HOME:+$JAVA_HOME/bin/}java"
work="$(mktemp -d "${TMPDIR:-/tmp}/pinfleet-cds.XXXXXX")"
trap 'rm -rf "$work"' EXIT
cd "$work"
n=0
train() {  # one training run: a pinfleet command line, its loaded classes appended to the list
  n=$((n + 1))
  "$java" -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:DumpLoadedClassList="$work/classes.$n" -jar "$jar" "$@" >>"$work/train.log" 2>&1
}
# a one-wheel site-packages: what import-venv packs and publishes, what freeze then reads
site="$work/site"
mkdir -p "$site/cdsdemo" "$site/cdsdemo-1.0.dist-info"
printf 'VALUE = 1\n' >"$site/cdsdemo/__init__.py"
printf 'Metadata-Version: 2.1\nName: cdsdemo\nVersion: 1.0\n' >"$site/cdsdemo-1.0.dist-info/METADATA"
printf 'Wheel-Version: 1.0\nGenerator: pinfleet-cds\nRoot-Is-Purelib: true\nTag: py3-none-any\n' \
  >"$site/cdsdemo-1.0.dist-info/WHEEL"
printf 'cdsdemo/__init__.py,,\ncdsdemo-1.0.dist-info/METADATA,,\ncdsdemo-1.0.dist-info/WHEEL,,\ncdsdemo-1.0.dist-info/RECORD,,\n' \
  >"$site/cdsdemo-1.0.dist-info/RECORD"
train --version
train --help
train deploy --help
train keygen "$work/keys/release"
train mirror init --mirror "$work/mirror"
train mirror acknowledge --mirror "$work/mirror" --as build --policy-version "$(cat "$work/mirror/policy/version")"
train mirror import-venv "$site" --all --mirror "$work/mirror" --as build -o "$work/reqs.txt"
train freeze "$work/reqs.txt" --mirror "$work/mirror" --app cds --python 3.11 -o "$work/manifest.json"
train sign "$work/manifest.json" --key "$work/keys/release.key" -o "$work/manifest.signed.json"
mkdir -p "$work/trusted" && cp "$work/keys/release.pub" "$work/trusted/"
train verify "$work/manifest.signed.json" --trusted "$work/trusted"
# The fleet commands: TLS certificates, the embedded controller's records (SQLite), and status and plan over mutual TLS
# to a node nothing listens on (the gRPC, Netty and TLS client classes load before the refused connection; the
# commands exit 1 for the unreachable node, which `unreachable` checks). A status of 3 nodes used ~40 % less CPU with these.
printf 'all:\n  hosts:\n    web1: {ansible_host: 127.0.0.1, pinfleet_agent_port: 1}\n' >"$work/hosts.yml"
train certs init "$work/pki"
train certs issue --dir "$work/pki" --role controller controller
train history
unreachable() {  # a training run that must end as a node being unreachable: exit code 1, not a usage error (2)
  local rc=0
  train "$@" || rc=$?
  [[ $rc == 1 ]] || { echo "archive.sh: pinfleet $1 exited $rc, expected 1 (the node is unreachable)" >&2; cat "$work/train.log" >&2; exit 1; }
}
unreachable status -i "$work/hosts.yml" --tls-dir "$work/pki"
unreachable plan "$work/manifest.signed.json" -i "$work/hosts.yml" --tls-dir "$work/pki"
sort -u "$work"/classes.* | grep -v '^#' >"$work/classes.lst"
rm -f "$archive"
"$java" -Xshare:dump -XX:SharedClassListFile="$work/classes.lst" -XX:SharedArchiveFile="$archive.tmp" \
  -cp "$jar" >"$work/dump.log" 2>&1 || { cat "$work/train.log" "$work/dump.log" >&2; exit 1; }
mv "$archive.tmp" "$archive"
echo "pinfleet CDS archive: $archive ($(wc -l <"$work/classes.lst") classes from $n training runs)"
