#!/usr/bin/env bash
# The whole test suite: unit, loopback end-to-end and real-process tests (mvn verify),
# then the Ansible checks: syntax-check, ansible-lint, a real converge of the roles into a
# throwaway root, the agent started from what the role rendered, and a deploy to it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
# What a fresh machine lacks (Java, Maven, Python venv, and the real peers the tests use): installed here when run as
# root on Debian/Ubuntu, otherwise named with the one command that installs it.
./install-deps.sh --check test 2>/dev/null || ./install-deps.sh test
java -version 2>&1 | head -1
python3 --version
mvn -B verify
ansible/tests/converge.sh
