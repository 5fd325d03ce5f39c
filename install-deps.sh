#!/usr/bin/env bash
# What ./demo.sh and ./test.sh need from the machine, checked and (as root, with apt) installed.
#
#   ./install-deps.sh demo     Java 17, Maven, Python 3 with venv and pip: enough for ./demo.sh
#   ./install-deps.sh test     the above, plus the real peers the tests use (the default)
#   ./install-deps.sh --check test
#                              only say what is missing (exit 1 if anything is), install nothing
#
# The test peers: ansible-playbook/ansible-lint (the roles), prometheus + promtool (metrics, dashboards, alert rules),
# nginx (the static mirror and the cache tiers), systemd-analyze (unit checks), openssl (the transport tests'
# certificates), ip (network namespaces, a bridge) and iptables (the network-fault rollout), mount/prlimit/setpriv
# (tmpfs and read-only mounts of the state tests), PostgreSQL 15's initdb/pg_ctl (the store tests start a throwaway
# cluster of their own, as nobody, on loopback).
# ./demo.sh and ./test.sh call this with --check first and, when something is missing, run it themselves as root
# or stop naming the one command to run.
set -euo pipefail

check_only=false
if [[ "${1:-}" == --check ]]; then check_only=true; shift; fi
what="${1:-test}"
case "$what" in demo | test) ;; *) echo "usage: $0 [--check] demo|test" >&2; exit 2 ;; esac

missing=()
need() { missing+=("$@"); } # PACKAGE…: what Debian calls the thing the check before it did not find
command -v java >/dev/null && java -version 2>&1 | grep -qE 'version "(1[7-9]|[2-9][0-9])' \
  || need openjdk-17-jdk-headless
command -v mvn >/dev/null || need maven
command -v python3 >/dev/null || need python3
python3 -c 'import venv, ensurepip' 2>/dev/null || need python3-venv
python3 -m pip --version >/dev/null 2>&1 || need python3-pip
if [[ "$what" == test ]]; then
  command -v ansible-playbook >/dev/null || need ansible
  command -v ansible-lint >/dev/null || need ansible-lint
  { command -v promtool && { command -v prometheus || [[ -x /usr/bin/prometheus ]]; }; } >/dev/null || need prometheus
  command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need nginx
  command -v systemd-analyze >/dev/null || need systemd
  command -v openssl >/dev/null || need openssl
  command -v ip >/dev/null || [[ -x /usr/sbin/ip ]] || need iproute2
  command -v iptables >/dev/null || [[ -x /usr/sbin/iptables ]] || need iptables
  { command -v prlimit && command -v setpriv && command -v mount; } >/dev/null || need util-linux mount
  [[ -x /usr/lib/postgresql/15/bin/initdb && -x /usr/lib/postgresql/15/bin/pg_ctl ]] || need postgresql
fi

if ((${#missing[@]} == 0)); then
  exit 0
fi
if $check_only; then
  echo "missing for ./$what.sh: ${missing[*]}" >&2
  exit 1
fi
if [[ $EUID -ne 0 ]] || ! command -v apt-get >/dev/null; then
  echo "missing for ./$what.sh: ${missing[*]}" >&2
  echo "install them with: sudo $(realpath "$0") $what   (Debian/Ubuntu, apt)" >&2
  exit 1
fi
echo "installing for ./$what.sh: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
apt-get install -y -q --no-install-recommends "${missing[@]}"
# Debian's postgresql package may create and start a 'main' cluster, and its prometheus package may start its
# daemon; the tests start their own servers on loopback ports. Stop only what these packages started, by the
# package's own tool, unit or pid file.
if [[ " ${missing[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null; then
  pg_ctlcluster 15 main stop 2>/dev/null || true
fi
if [[ " ${missing[*]} " == *" prometheus "* ]]; then
  if command -v systemctl >/dev/null && systemctl is-active --quiet prometheus 2>/dev/null; then
    systemctl stop prometheus
  elif [[ -s /run/prometheus/prometheus.pid ]]; then
    kill "$(cat /run/prometheus/prometheus.pid)" 2>/dev/null || true
  fi
fi
