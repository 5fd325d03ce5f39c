#!/usr/bin/env bash
# CI check of ansible/ (run after `mvn -B verify`, which builds the jars):
#
#  1. ansible-playbook --syntax-check and ansible-lint (production profile) on site.yml and the roles;
#     promtool check config on the Prometheus scrape example
#  2. a real converge of site.yml (all three roles) on this machine (-c local) into a throwaway root, with
#     package installs, users and services switched off; a second converge must change nothing
#  3. systemd-analyze verify on the rendered units (agent and controller service)
#  4. nginx started on the site the mirror role rendered (its mirror laid out by `pinfleet mirror init`, with the
#     policy text of pinfleet_mirror_policy_file and the sign-off of pinfleet_mirror_uploaders); publishing refused
#     before sign-off, then signed off with the installed pinfleet-mirror-acknowledge and wheels published with the
#     installed pinfleet-mirror-publish; the audit log, upload policy, uploaders and dot-files are refused over HTTP
#  5. a cache tier (the mirror role with pinfleet_mirror_cache_of): its site is exactly what `pinfleet mirror
#     nginx-conf --cache-of` prints, nginx -t accepts it, and it serves (MISS, then HIT, Range) and refuses like the
#     origin; the agent role lists the tier first and the origin after it
#  6. the agent and the controller service started exactly as their rendered units' ExecStart say (with the
#     rendered config files); a deploy with the CLI the controller role installed, its inventory and key, through the
#     controller service (an operator certificate) and the tier, must succeed and be in the controller's history
#  7. promtool check metrics on a real scrape of that agent; SIGTERM stops agent and controller within their
#     units' TimeoutStopSec
#
# Needs: ansible-playbook, ansible-lint, promtool (Debian: ansible ansible-lint prometheus), nginx, systemd-analyze
# (Debian: systemd), java 17, python3 with venv. Work files go to a temp directory (kept with KEEP=1).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
ans="$repo/ansible"
export PIP_CONFIG_FILE=/dev/null
while read -r v; do unset "$v"; done < <(env | sed -n 's/^\(PIP_[A-Z_]*\)=.*/\1/p' | grep -v '^PIP_CONFIG_FILE$' || true)
export ANSIBLE_NOCOLOR=1 ANSIBLE_FORCE_COLOR=0 ANSIBLE_CONFIG="$ans/ansible.cfg"

started=$SECONDS
say() { printf '\n== [%3d s] %s\n' "$((SECONDS - started))" "$*"; }
die() { echo "converge.sh: $*" >&2; exit 1; }
for tool in ansible-playbook ansible-lint promtool nginx systemd-analyze java python3; do
  command -v "$tool" >/dev/null || die "$tool is not installed (Debian packages: ansible ansible-lint prometheus nginx systemd)"
done
for jar in agent/target/pinfleet-agent.jar controller/target/pinfleet.jar; do
  [[ -f "$repo/$jar" ]] || die "$repo/$jar is missing: build it first (mvn -B verify or mvn -B -DskipTests package)"
done

work="$(mktemp -d "${TMPDIR:-/tmp}/pinfleet-ansible.XXXXXX")"
chmod 0755 "$work"  # nginx workers read the mirror below it
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ "${KEEP:-0}" == 1 ]]; then echo "work files kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

http() { # URL [RANGE] -> prints "STATUS BYTES CACHE-STATUS" (the tier's X-Pinfleet-Cache header, or -)
  python3 - "$@" <<'PY'
import sys, urllib.request, urllib.error
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args):
        return None
req = urllib.request.Request(sys.argv[1])
if len(sys.argv) > 2 and sys.argv[2]:
    req.add_header("Range", sys.argv[2])
try:
    with urllib.request.build_opener(NoRedirect).open(req, timeout=10) as r:
        print(r.status, len(r.read()), r.headers.get("X-Pinfleet-Cache") or "-")
except urllib.error.HTTPError as e:
    print(e.code, 0, e.headers.get("X-Pinfleet-Cache") or "-")
PY
}
expect_status() { # URL WANT [RANGE [CACHE-STATUS]]
  local got; got="$(http "$1" "${3:-}")"
  [[ "${got%% *}" == "$2" ]] || die "GET $1 answered ${got%% *}, expected $2"
  [[ -z "${4:-}" || "${got##* }" == "$4" ]] || die "GET $1 answered X-Pinfleet-Cache ${got##* }, expected $4"
  echo "GET ${1#http://127.0.0.1:*/} ${3:+($3) }-> ${got%% *}${4:+ $4}"
}
# N distinct loopback ports free now, below the kernel's ephemeral range (net.ipv4.ip_local_port_range): the services
# bind them minutes later, and a port the kernel handed out as ephemeral (the bind-to-0 way) can be taken meanwhile
# by any outgoing connection on the machine; a port below the range is only ever taken by an explicit bind.
free_ports() {
    python3 - "$1" <<'PY'
import random, socket, sys
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
chosen = []
for _ in range(10000):
    if len(chosen) == int(sys.argv[1]):
        break
    p = random.randrange(10000, low)
    if p in chosen:
        continue
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        chosen.append(p)
    except OSError:
        pass
    finally:
        s.close()
if len(chosen) < int(sys.argv[1]):
    sys.exit("converge.sh: no %s free loopback ports below %d" % (sys.argv[1], low))
print(" ".join(map(str, chosen)))
PY
}
wait_until() { # WHAT PID CMD...
  local what="$1" pid="$2"; shift 2
  for _ in $(seq 1 300); do
    "$@" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || die "$what exited early"
    sleep 0.2
  done
  die "$what did not come up within 60 s"
}

say "syntax check and lint"
(cd "$ans" && ansible-playbook --syntax-check -i inventory.example.ini site.yml)
(cd "$ans" && ansible-lint --offline --profile production -p site.yml roles/)
promtool check config "$ans/files/prometheus/pinfleet-scrape.yml"
# The example inventory is one `pinfleet deploy` reads: its agents, their ports, the controller's TLS directory.
cat > "$work/InventoryCheck.java" <<'JAVA'
public class InventoryCheck {
    public static void main(String[] a) {
        var inv = dev.pinfleet.controller.rollout.Inventory.read(java.nio.file.Path.of(a[0]));
        var got = inv.select("pinfleet_agents").stream().map(n -> n.name() + "@" + n.host() + ":" + n.port()).toList();
        var want = java.util.List.of("web1@10.0.1.11:7400", "web2@10.0.1.12:7400", "web3@10.0.1.13:7401");
        if (!got.equals(want) || !"/etc/pinfleet/tls".equals(inv.globalVars().get("pinfleet_tls_dir"))) {
            throw new AssertionError("pinfleet reads " + a[0] + " as " + got + " " + inv.globalVars() + ", expected " + want);
        }
        System.out.println("pinfleet reads " + a[0] + ": " + got);
    }
}
JAVA
java -cp "$repo/controller/target/pinfleet.jar" "$work/InventoryCheck.java" "$ans/inventory.example.ini"

say "keys and wheels"
mkdir -p "$work/keys"
java -jar "$repo/controller/target/pinfleet.jar" keygen "$work/keys/release"
python3 -m venv "$work/venv"
# import-venv publishes: the scratch mirror needs an upload policy, signed off by its publisher (ci).
java -jar "$repo/controller/target/pinfleet.jar" mirror init --mirror "$work/scratch-mirror"
java -jar "$repo/controller/target/pinfleet.jar" mirror acknowledge --mirror "$work/scratch-mirror" --as ci \
  --policy-version "$(cat "$work/scratch-mirror/policy/version")"
# --all: a fresh venv holds only pip (and setuptools), which import-venv leaves out by default; the deploy below
# installs them and imports pip from the new release.
java -jar "$repo/controller/target/pinfleet.jar" mirror import-venv "$work/venv" --mirror "$work/scratch-mirror" \
  --as ci -o "$work/requirements.txt" --all
mapfile -t wheels < <(find "$work/scratch-mirror/packages" -name '*.whl' | sort)
((${#wheels[@]} > 0)) || die "import-venv packed no wheel"
printf '%s\n' "${wheels[@]}" | grep -q '/pip-[^/]*\.whl$' || die "import-venv packed no pip wheel: ${wheels[*]}"
# The mirror role installs this policy text (pinfleet_mirror_policy_file) and records release-bot's sign-off.
cat > "$work/POLICY.md" <<'EOF'
# Upload policy of the converge test's mirror

Publish only wheels built by this test. Every upload is audited.
EOF

# The fleet CA: the controller service's certificate (for 127.0.0.1) and an operator's, "ci".
java -jar "$repo/controller/target/pinfleet.jar" certs init "$work/pki"
java -jar "$repo/controller/target/pinfleet.jar" certs issue --role controller controller --san 127.0.0.1 --dir "$work/pki"
java -jar "$repo/controller/target/pinfleet.jar" certs issue --role operator ci --dir "$work/pki"

read -r grpc_port metrics_port nginx_port tier_port controller_port <<<"$(free_ports 5)"
[[ -n "$controller_port" ]] || { echo "converge.sh: cannot choose loopback ports" >&2; exit 1; }
user="$(id -un)"; group="$(id -gn)"
python="$(python3 -c 'import sys; print(sys.executable)')"
cat > "$work/inventory.ini" <<EOF
# Read by ansible-playbook (converge) and by pinfleet deploy alike.
[pinfleet_agents]
node1 ansible_host=127.0.0.1 ansible_connection=local pinfleet_agent_port=$grpc_port pinfleet_prefix=$work/node1

[all:vars]
# pinfleet deploy/status: agents on loopback without TLS (development)
pinfleet_plaintext=true

[pinfleet_mirror]
mirror1 ansible_host=127.0.0.1 ansible_connection=local pinfleet_prefix=$work/mirror1 pinfleet_mirror_listen=127.0.0.1:$nginx_port

[pinfleet_mirror_cache]
cache1 ansible_host=127.0.0.1 ansible_connection=local pinfleet_prefix=$work/cache1 pinfleet_mirror_listen=127.0.0.1:$tier_port

[pinfleet_mirror_cache:vars]
pinfleet_mirror_cache_of=http://127.0.0.1:$nginx_port

[pinfleet_controller]
ops1 ansible_host=127.0.0.1 ansible_connection=local pinfleet_prefix=$work/ops1
EOF
cat > "$work/throwaway.yml" <<EOF
# A converge into throwaway roots: no packages, users or services; everything owned by $user.
ansible_become: false
ansible_python_interpreter: /usr/bin/python3
pinfleet_install_packages: false
pinfleet_manage_users: false
pinfleet_manage_services: false
pinfleet_repo_dir: $repo
pinfleet_java: $(command -v java)
pinfleet_agent_user: $user
pinfleet_agent_group: $group
pinfleet_agent_app_group: $group
pinfleet_agent_config_owner: $user
pinfleet_agent_listen_host: 127.0.0.1
pinfleet_agent_plaintext: true
pinfleet_agent_trusted_keys: [$work/keys/release.pub]
pinfleet_agent_mirrors: http://127.0.0.1:$nginx_port/
pinfleet_agent_mirror_tiers: [http://127.0.0.1:$tier_port/]
pinfleet_agent_python: $python
pinfleet_agent_metrics_listen: 127.0.0.1:$metrics_port
pinfleet_agent_shutdown_seconds: 10
pinfleet_agent_protect_home: read-only
pinfleet_agent_reload_units: [shop.service]
pinfleet_mirror_policy_file: $work/POLICY.md
pinfleet_mirror_uploaders: [release-bot]
pinfleet_controller_owner: $user
pinfleet_controller_group: $group
pinfleet_controller_signing_key_src: $work/keys/release.key
pinfleet_controller_signing_pub_src: $work/keys/release.pub
pinfleet_controller_user: $user
pinfleet_controller_service_group: $group
pinfleet_controller_listen_host: 127.0.0.1
pinfleet_controller_port: $controller_port
pinfleet_controller_tls_cert_src: $work/pki/controller.crt
pinfleet_controller_tls_key_src: $work/pki/controller.key
pinfleet_controller_tls_ca_src: $work/pki/ca.crt
pinfleet_controller_trusted_keys: [$work/keys/release.pub]
EOF

say "converge site.yml into $work (service management off)"
(cd "$ans" && ansible-playbook -i "$work/inventory.ini" -c local site.yml -e "@$work/throwaway.yml") | tee "$work/converge.log"
grep -Eq '^node1 +: ok=[0-9]+ +changed=[0-9]+ +unreachable=0 +failed=0' "$work/converge.log" || die "converge failed"
say "converge again: nothing may change"
(cd "$ans" && ansible-playbook -i "$work/inventory.ini" -c local site.yml -e "@$work/throwaway.yml") > "$work/converge2.log"
sed -n '/PLAY RECAP/,$p' "$work/converge2.log"
if grep -E '^[a-z0-9]+ +: ' "$work/converge2.log" | grep -Ev 'changed=0 +unreachable=0 +failed=0' ; then
  die "the second converge changed something (not idempotent); see above"
fi

unit="$work/node1/etc/systemd/system/pinfleet-agent.service"
config="$work/node1/etc/pinfleet/agent.properties"
say "rendered unit $unit"
cat "$unit"
verify="$(systemd-analyze verify "$unit" 2>&1)" || die "systemd-analyze verify rejects the unit: $verify"
[[ -z "$verify" ]] || die "systemd-analyze verify warns about the unit: $verify"
echo "systemd-analyze verify: ok (no warning)"
systemd-analyze security --offline=true --no-pager "$unit" 2>/dev/null | tail -1 || true
for want in 'NoNewPrivileges=yes' 'ProtectSystem=strict' "ReadWritePaths=$work/node1/var/lib/pinfleet" \
    'PrivateTmp=yes' 'Restart=on-failure' 'LimitNOFILE=65536' 'TimeoutStopSec=40s' "User=$user"; do
  grep -qx "$want" "$unit" || die "the unit lacks the line $want"
done
cunit="$work/ops1/etc/systemd/system/pinfleet-controller.service"
cconfig="$work/ops1/etc/pinfleet/controller.properties"
say "rendered unit $cunit"
cat "$cunit"
verify="$(systemd-analyze verify "$cunit" 2>&1)" || die "systemd-analyze verify rejects the controller unit: $verify"
[[ -z "$verify" ]] || die "systemd-analyze verify warns about the controller unit: $verify"
echo "systemd-analyze verify: ok (no warning)"
systemd-analyze security --offline=true --no-pager "$cunit" 2>/dev/null | tail -1 || true
for want in 'NoNewPrivileges=yes' 'ProtectSystem=strict' "ReadWritePaths=$work/ops1/var/lib/pinfleet-controller" \
    'PrivateTmp=yes' 'ProtectHome=yes' 'Restart=on-failure' 'TimeoutStopSec=40s' 'SuccessExitStatus=143' "User=$user"; do
  grep -qx "$want" "$cunit" || die "the controller unit lacks the line $want"
done
[[ "$(stat -c %a "$work/ops1/var/lib/pinfleet-controller")" == 700 ]] || die "the controller's records directory is not 0700"
[[ "$(stat -c %a "$work/ops1/etc/pinfleet/tls/controller.key")" == 640 ]] || die "the controller's key is not mode 0640"
cat "$cconfig"

say "rendered config $config"
cat "$config"
[[ "$(stat -c %a "$work/ops1/etc/pinfleet/keys/release.key")" == 600 ]] || die "the signing key is not mode 0600"

nginx_conf() { # DIR SITES-DIR: a foreground nginx.conf in DIR around the sites a role rendered, checked by nginx -t
  mkdir -p "$1"
  cat > "$1/nginx.conf" <<EOF
$( ((EUID == 0)) && echo "user $user $group;" )
worker_processes 1;
daemon off;
pid $1/nginx.pid;
error_log $1/error.log;
events { worker_connections 64; }
http {
    include /etc/nginx/mime.types;
    access_log $1/access.log;
    client_body_temp_path $1/body;
    proxy_temp_path $1/proxy;
    fastcgi_temp_path $1/fastcgi;
    uwsgi_temp_path $1/uwsgi;
    scgi_temp_path $1/scgi;
    include $2/*.conf;
}
EOF
  nginx -t -e "$1/error.log" -p "$1" -c "$1/nginx.conf"
}

say "nginx on the site the mirror role rendered"
mirror="$work/mirror1/srv/pinfleet-mirror"
nginx_conf "$work/nginx" "$work/mirror1/etc/nginx/sites-enabled"
nginx -e "$work/nginx/error.log" -p "$work/nginx" -c "$work/nginx/nginx.conf" & pids+=($!)
nginx_pid=$!
mirror_url="http://127.0.0.1:$nginx_port"
wait_until nginx "$nginx_pid" http "$mirror_url/simple/"

say "upload policy of the mirror the role laid out"
cmp "$work/POLICY.md" "$mirror/policy/POLICY.md" || die "the mirror's policy text is not pinfleet_mirror_policy_file"
policy_version="$(cat "$mirror/policy/version")"
grep -Eq "^release-bot +$policy_version +" "$mirror/uploaders" \
  || die "the role did not record release-bot's sign-off (pinfleet_mirror_uploaders) in $mirror/uploaders"
echo "policy version $policy_version, text from pinfleet_mirror_policy_file; release-bot signed off by the role"
mirror_bin="$work/mirror1/usr/local/bin"
publisher="${SUDO_USER:-$(id -un)}"  # whom the launchers name
if refused="$("$mirror_bin/pinfleet-mirror-publish" "${wheels[@]}" 2>&1)"; then
  die "pinfleet-mirror-publish published before $publisher signed off the upload policy: $refused"
fi
grep -q "$publisher may not publish to mirror $mirror" <<<"$refused" || die "publishing before sign-off failed otherwise: $refused"
[[ -z "$(find "$mirror/packages" -type f)" && ! -e "$mirror/audit.log" ]] || die "a refused publish left files in $mirror"
echo "publish before sign-off refused: $refused"

say "sign off with the installed pinfleet-mirror-acknowledge"
shown=0
"$mirror_bin/pinfleet-mirror-acknowledge" > "$work/policy-shown.txt" 2>&1 || shown=$?
# Not on a terminal it shows the policy and the command that signs it off, and exits 0: nothing went wrong.
((shown == 0)) || die "pinfleet-mirror-acknowledge without --policy-version exited $shown, expected 0 (shows the policy)"
grep -q -- "--policy-version $policy_version" "$work/policy-shown.txt" || die "pinfleet-mirror-acknowledge did not show the command that signs the policy off"
grep -q "^Publish only wheels built by this test" "$work/policy-shown.txt" || die "pinfleet-mirror-acknowledge did not show the policy"
"$mirror_bin/pinfleet-mirror-acknowledge" --policy-version "$policy_version"
grep -Eq "^$publisher +$policy_version +" "$mirror/uploaders" || die "$mirror/uploaders lacks $publisher's sign-off"

say "publish ${#wheels[@]} wheel(s) with the installed pinfleet-mirror-publish"
"$mirror_bin/pinfleet-mirror-publish" "${wheels[@]}"
[[ -s "$mirror/audit.log" ]] || die "publishing wrote no audit log"
first="${wheels[0]#"$work/scratch-mirror/"}"
expect_status "$mirror_url/simple/" 200
expect_status "$mirror_url/$first" 200
expect_status "$mirror_url/$first" 206 "bytes=10-"
expect_status "$mirror_url/audit.log" 404
expect_status "$mirror_url/uploaders" 404
expect_status "$mirror_url/policy/POLICY.md" 404
expect_status "$mirror_url/.pinfleet.lock" 404
expect_status "$mirror_url/packages/../audit.log" 404
expect_status "$mirror_url/metrics" 404

say "cache tier: the site the mirror role rendered with pinfleet_mirror_cache_of"
tier_site="$work/cache1/etc/nginx/sites-available/pinfleet-mirror.conf"
[[ ! -e "$work/cache1/srv/pinfleet-mirror" && ! -e "$work/cache1/opt/pinfleet" ]] \
  || die "the tier got a mirror directory or the publishing tools: a tier holds only nginx and its cache"
# One template: the role's rendering is what `pinfleet mirror nginx-conf --cache-of` prints, but for line 1 (who
# wrote it). Each option is the role variable of the same name, here at the role's defaults but the cache directory.
java -jar "$repo/controller/target/pinfleet.jar" mirror nginx-conf --cache-of "http://127.0.0.1:$nginx_port" \
  --listen "127.0.0.1:$tier_port" --server-name cache1 --cache-dir "$work/cache1/var/cache/nginx/pinfleet-mirror" \
  > "$work/tier-cli.conf"
diff <(tail -n +2 "$tier_site") <(tail -n +2 "$work/tier-cli.conf") \
  || die "the role's tier site differs from pinfleet mirror nginx-conf --cache-of (see the diff above)"
echo "the role's tier site equals pinfleet mirror nginx-conf --cache-of (but for its first line)"
[[ "$(stat -c %a "$work/cache1/var/cache/nginx/pinfleet-mirror")" == 700 ]] || die "the cache directory is not mode 0700"
nginx_conf "$work/nginx-tier" "$work/cache1/etc/nginx/sites-enabled"
nginx -e "$work/nginx-tier/error.log" -p "$work/nginx-tier" -c "$work/nginx-tier/nginx.conf" & pids+=($!)
tier_pid=$!
tier_url="http://127.0.0.1:$tier_port"
wait_until "the tier's nginx" "$tier_pid" http "$tier_url/simple/"
expect_status "$tier_url/simple/" 200
origin_lines="$(wc -l < "$work/nginx/access.log")"
expect_status "$tier_url/$first" 200 "" MISS
expect_status "$tier_url/$first" 200 "" HIT
expect_status "$tier_url/$first" 206 "bytes=10-" HIT
for refused in audit.log uploaders policy/POLICY.md .pinfleet.lock packages/../audit.log metrics upload/x.whl; do
  expect_status "$tier_url/$refused" 404
done
# The tier fetched /$first from the origin once (its HITs cost the origin nothing); nginx logs a request just
# after its last byte, hence the short wait.
origin_fetches() { tail -n +"$((origin_lines + 1))" "$work/nginx/access.log" | grep -c "GET /$first " || true; }
for _ in $(seq 1 50); do (( $(origin_fetches) >= 1 )) && break; sleep 0.1; done
(( $(origin_fetches) == 1 )) || die "the tier fetched /$first $(origin_fetches) times from the origin, expected once"
echo "the origin served /$first once to the tier"
grep -qx "mirrors=$tier_url/,$mirror_url/" "$config" || die "the agent's mirrors are not the tier, then the origin: $(grep '^mirrors=' "$config")"
echo "agent mirrors: $(sed -n 's/^mirrors=//p' "$config")"

say "start the agent exactly as the unit says"
exec_start="$(sed -n 's/^ExecStart=//p' "$unit")"
mapfile -d '' -t argv < <(python3 -c 'import shlex, sys; sys.stdout.write("\0".join(shlex.split(sys.argv[1])) + "\0")' "$exec_start")
printf '%q ' "${argv[@]}"; echo
"${argv[@]}" > "$work/agent.log" 2>&1 & pids+=($!)
agent_pid=$!
wait_until "the agent (log: $work/agent.log)" "$agent_pid" http "http://127.0.0.1:$metrics_port/metrics"

say "start the controller service exactly as its unit says"
exec_start="$(sed -n 's/^ExecStart=//p' "$cunit")"
mapfile -d '' -t cargv < <(python3 -c 'import shlex, sys; sys.stdout.write("\0".join(shlex.split(sys.argv[1])) + "\0")' "$exec_start")
printf '%q ' "${cargv[@]}"; echo
"${cargv[@]}" > "$work/controller.log" 2>&1 & pids+=($!)
controller_pid=$!
port_open() { python3 -c 'import socket, sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 2).close()' "$1"; }
wait_until "the controller service (log: $work/controller.log)" "$controller_pid" port_open "$controller_port"
operator=(--controller "127.0.0.1:$controller_port" --operator-cert "$work/pki/ci.crt" --operator-key "$work/pki/ci.key"
  --controller-ca "$work/pki/ca.crt")

say "freeze, sign, deploy with the CLI, key and inventory the controller role installed, through the controller service"
pinfleet="$work/ops1/usr/local/bin/pinfleet"
inventory="$work/ops1/etc/pinfleet/inventory.ini"
cmp -s "$inventory" "$work/inventory.ini" || die "the controller role installed another inventory than the one it ran with"
pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
"$pinfleet" freeze "$work/requirements.txt" --mirror "$mirror_url/" --app shop --python "$pyver" -o "$work/manifest.json"
"$pinfleet" sign "$work/manifest.json" --key "$work/ops1/etc/pinfleet/keys/release.key" -o "$work/manifest.signed.json"
"$pinfleet" deploy "$work/manifest.signed.json" --inventory "$inventory" --limit pinfleet_agents --report "$work/report.json" \
  --message "converge check" "${operator[@]}"
python3 - "$work/report.json" "$tier_url" <<'PY'
import json, sys
nodes = json.load(open(sys.argv[1]))["nodes"]
bad = [n for n in nodes if n.get("outcome") != "NODE_OK"]
if len(nodes) != 1 or bad:
    sys.exit("deploy did not succeed on every node: %s" % json.dumps(nodes)[:2000])
r = nodes[0]["report"]
print("deploy: node %s release %s, %d artifacts, %s ms on the agent" % (nodes[0]["node"], r["release"], len(r["artifacts"]), r.get("total_ms")))
tier = sys.argv[2] + "/"
off = [a.get("url") for a in r["artifacts"] if not (a.get("url") or "").startswith(tier)]
if off:
    sys.exit("artifacts not fetched through the cache tier %s: %s" % (tier, off))
print("every artifact came through the cache tier", tier)
PY
"$work/node1/var/lib/pinfleet/apps/shop/current/bin/python" -c 'import pip; print("current/bin/python imports pip", pip.__version__)'
"$pinfleet" history --app shop --json "${operator[@]}" > "$work/history.json"
python3 - "$work/history.json" <<'PY'
import json, sys
h = json.load(open(sys.argv[1]))
if len(h) != 1 or h[0]["outcome"] != "ROLLOUT_SUCCEEDED" or h[0]["operator"] != "ci" or h[0]["message"] != "converge check":
    sys.exit("the controller service's history is not the one deploy by ci: %s" % json.dumps(h)[:2000])
print("controller history: rollout %s by %s, %s, nodes %s" % (h[0]["id"], h[0]["operator"], h[0]["outcome"], h[0]["nodes"]))
PY
[[ -s "$work/ops1/var/lib/pinfleet-controller/records.db" ]] || die "the controller service kept no records in its data directory"

say "scrape the agent and check it with promtool"
python3 -c 'import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())' \
  "http://127.0.0.1:$metrics_port/metrics" > "$work/scrape.prom"
promtool check metrics < "$work/scrape.prom"
echo "promtool check metrics: ok ($(grep -vc '^#' "$work/scrape.prom") samples)"
grep -E '^pinfleet_(deploys_total|artifacts_total|artifact_bytes_total|app_serial|app_releases|store_size_bytes|fetch_(retries|failovers)_total|deploy_phase_seconds_count)' "$work/scrape.prom" | grep -Ev ' 0(\.0)?$' || true

say "SIGTERM the agent: it must stop within TimeoutStopSec"
start_ns=$(date +%s%N)
kill -TERM "$agent_pid"
status=0
wait "$agent_pid" || status=$?
stop_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
((status == 143 || status == 0)) || die "agent exited with $status after SIGTERM"
((stop_ms < 40000)) || die "agent took $stop_ms ms to stop"
echo "agent stopped in $stop_ms ms (exit $status)"

say "SIGTERM the controller service: it must stop within TimeoutStopSec"
start_ns=$(date +%s%N)
kill -TERM "$controller_pid"
status=0
wait "$controller_pid" || status=$?
stop_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
((status == 143 || status == 0)) || die "the controller exited with $status after SIGTERM"
((stop_ms < 40000)) || die "the controller took $stop_ms ms to stop"
echo "controller stopped in $stop_ms ms (exit $status)"

say "ok: converge, units, nginx mirror and cache tier, agent and controller from their units, deploy through the controller and the tier, and scrape all checked"
