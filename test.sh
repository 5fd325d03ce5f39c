#!/usr/bin/env bash
# The whole test suite: unit, loopback end-to-end and real-process tests (mvn verify),
# then the Ansible checks: syntax-check, ansible-lint, a real converge of the roles into a
# throwaway root, the agent started from what the role rendered, and a deploy to it.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
mvn -B verify
ansible/tests/converge.sh
