#!/usr/bin/env python3
"""pinfleet install benchmark: the agent against pip, on real wheels, in one run.

Usage: bench/run.sh WHEELS_DIR REQUIREMENTS [options]   (see bench/README.md or --help)

Per round (the order of the three sides rotates from round to round), each measured run starting with no
dirty pages and an idle agent (`sync`, then no agent CPU for 300 ms, before the timer):
  pip          fresh `python -m venv` + `pip install --no-deps --no-index --find-links W -r REQS`
  pip-nc       the same with --no-compile
  new agent process (a new node: a fresh JVM on an empty root), then torn down:
    cold       deploys manifest A (every wheel fetched, unpacked, linked)
    warm       deploys B_r: A with one wheel changed (republished under a new local version each round, so it
               is fetched, unpacked and linked; the rest come from the cache)
    rollback   deploys A again under a new serial: the release is on disk, only a switch
  running agent (one agent process for the whole run, --keep-releases 2: a node's long-running service):
    (untimed)  deploys T1 and T2, one-wheel manifests A does not share: A's release falls out of the kept
               releases, and the agent's own garbage collection removes A's wheels from its store and cache
    cold       deploys A: every wheel fetched again (checked: the report says all came from the mirror)
    warm       deploys B_r
    rollback   deploys A again under a new serial

Everything real: `pinfleet mirror serve` on loopback, a `pinfleet-agent` process with plaintext gRPC on
loopback, manifests frozen and signed by `pinfleet freeze` / `pinfleet sign`, and pushed by a small driver
(bench/BenchDeploy.java: the controller's Deploy call, one JVM per side of a round). Agent-side
times come from the agent's DeployReport (total and per phase); the call's wall time is printed beside them,
and the agent log's breakdown of each release build. Medians over the rounds; ratios to the pip median; one
`BENCH {json}` line. Nothing is deleted while measuring: finished venvs and agent roots go to WORK/trash and
are removed at the end (deleting ~60,000 files makes this machine's file system slow for a while).
"""
import argparse
import hashlib
import base64
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
CONTROLLER_JAR = os.path.join(REPO, "controller", "target", "pinfleet.jar")
AGENT_JAR = os.path.join(REPO, "agent", "target", "pinfleet-agent.jar")
PHASES = ["VERIFY", "PLAN", "FETCH", "INSTALL", "SWITCH"]
SCENARIOS = ("cold_new", "cold_running", "warm_new", "warm_running", "rollback_new", "rollback_running")
LABELS = {"cold_new": "agent cold, new process", "cold_running": "agent cold, running",
          "warm_new": "agent warm, new process", "warm_running": "agent warm, running",
          "rollback_new": "rollback, new process", "rollback_running": "rollback, running"}
# issue 16's targets per agent: (cold, warm) as a multiple of pip in the same run, rollback in milliseconds
TARGETS = {"new": (0.10, 0.01, 20), "running": (0.08, 0.01, 20)}
BUILD_LINE = re.compile(r"built release (\S+): (.*)$")


def log(msg):
    print(msg, flush=True)


def clean_env():
    """The environment for pip: no PIP_* variables and no pip config (this machine's points elsewhere)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # for our own helper calls; pip's compile step is unaffected
    return env


def run(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        sys.exit("bench: command failed (exit %d): %s\n%s" % (r.returncode, " ".join(cmd), r.stdout[-4000:]))
    return r.stdout


def pinfleet(*args, java_opts=()):
    return run(["java", *java_opts, "-jar", CONTROLLER_JAR, *args])


def flush_disks():
    """Writes back every dirty page so that one run's writeback is not billed to the next."""
    subprocess.run(["sync"], check=True)


# ---------------------------------------------------------------- corpus

def collect_wheels(src, dest):
    """Symlinks every *.whl under src (any depth) into the flat directory dest; returns their paths."""
    os.makedirs(dest)
    out = []
    for dirpath, _, files in os.walk(src):
        for f in sorted(files):
            if f.endswith(".whl"):
                link = os.path.join(dest, f)
                if os.path.lexists(link):
                    sys.exit("bench: wheel %s appears twice under %s" % (f, src))
                os.symlink(os.path.realpath(os.path.join(dirpath, f)), link)
                out.append(link)
    if not out:
        sys.exit("bench: no *.whl files under %s" % src)
    return sorted(out)


def norm(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path):
    """name==version pins of a requirements file (continuation lines joined, --hash options ignored)."""
    pins = []
    text = open(path, encoding="utf-8").read().replace("\\\n", " ")
    for raw in text.splitlines():
        line = re.sub(r"\s--hash[=\s]\S+", " ", " " + raw.split("#", 1)[0]).strip()
        if not line:
            continue
        m = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*(\S+)$", line)
        if not m:
            sys.exit("bench: %s: '%s' is not a name==version pin" % (path, line))
        pins.append((m.group(1), m.group(2)))
    return pins


def record_hash(data):
    return "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def bump_wheel(src, out_dir, local="pinfleetbench"):
    """Republishes a wheel under version V+local: dist-info (and .data) renamed, METADATA Version and RECORD
    rewritten, every other byte as it was. Returns (path, new version)."""
    base = os.path.basename(src)[:-4]
    parts = base.split("-")
    dist, ver = parts[0], parts[1]
    new_ver = ver + ("." if "+" in ver else "+") + local
    old_prefix, new_prefix = "%s-%s." % (dist, ver), "%s-%s." % (dist, new_ver)
    out = os.path.join(out_dir, "-".join([dist, new_ver] + parts[2:]) + ".whl")
    rows = []
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        record_name = None
        for info in zin.infolist():
            name = info.filename
            if name.startswith(old_prefix + "dist-info/") or name.startswith(old_prefix + "data/"):
                name = new_prefix + name[len(old_prefix):]
            data = zin.read(info)
            if name == new_prefix + "dist-info/RECORD":
                record_name = name
                continue
            if name == new_prefix + "dist-info/METADATA":
                text = data.decode("utf-8")
                text, n = re.subn(r"(?m)^Version: .*$", "Version: " + new_ver, text, count=1)
                if n != 1:
                    sys.exit("bench: %s: METADATA has no Version line" % src)
                data = text.encode("utf-8")
            new = zipfile.ZipInfo(name, info.date_time)
            new.external_attr = info.external_attr
            new.create_system = info.create_system
            new.compress_type = zipfile.ZIP_DEFLATED
            zout.writestr(new, data)
            if not name.endswith("/"):
                rows.append("%s,%s,%d" % (name, record_hash(data), len(data)))
        if record_name is None:
            sys.exit("bench: %s has no RECORD" % src)
        rows.append("%s,," % record_name)
        zout.writestr(zipfile.ZipInfo(record_name, (2020, 1, 1, 0, 0, 0)), "\n".join(rows) + "\n")
    return out, new_ver


def pick_changed(wheels, pins, wanted):
    """The wheel to change: --change NAME, else the one of median size (a typical package)."""
    by_name = {}
    for w in wheels:
        by_name[norm(os.path.basename(w).split("-")[0])] = w
    pinned = [norm(n) for n, _ in pins]
    if wanted:
        if norm(wanted) not in by_name or norm(wanted) not in pinned:
            sys.exit("bench: --change %s: no such pinned wheel" % wanted)
        return by_name[norm(wanted)]
    candidates = sorted((os.path.getsize(by_name[p]), by_name[p]) for p in pinned if p in by_name)
    return candidates[len(candidates) // 2][1]


# ---------------------------------------------------------------- processes

class Process:
    """A background JVM (mirror or agent) started with --port-file; stopped with SIGTERM, then SIGKILL."""

    def __init__(self, name, cmd, port_file, log_file):
        self.name, self.port_file, self.log_file = name, port_file, log_file
        self.out = open(log_file, "w")
        self.proc = subprocess.Popen(cmd, stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while not (os.path.exists(port_file) and open(port_file).read().strip()):
            if self.proc.poll() is not None:
                sys.exit("bench: %s exited early (%d); log %s:\n%s" % (name, self.proc.returncode, log_file,
                                                                     open(log_file).read()[-4000:]))
            if time.monotonic() > deadline:
                self.stop()
                sys.exit("bench: %s did not start within 60 s; log %s" % (name, log_file))
            time.sleep(0.05)
        self.port = int(open(port_file).read().strip())

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.out.close()


# ---------------------------------------------------------------- measurements

def pip_run(python, wheels_dir, reqs, venv, compile_):
    flush_disks()
    env = clean_env()
    c0 = os.times()
    t0 = time.monotonic()
    run([python, "-m", "venv", venv], env=env)
    t1 = time.monotonic()
    cmd = [os.path.join(venv, "bin", "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
           "--find-links", wheels_dir, "-r", reqs]
    if not compile_:
        cmd.insert(5, "--no-compile")
    run(cmd, env=env)
    t2 = time.monotonic()
    c1 = os.times()
    cpu = (c1.children_user - c0.children_user) + (c1.children_system - c0.children_system)
    return {"total_s": t2 - t0, "venv_s": t1 - t0, "install_s": t2 - t1, "cpu_s": cpu}


def compile_driver(work):
    classes = os.path.join(work, "classes")
    os.makedirs(classes)
    run(["javac", "-d", classes, "-cp", AGENT_JAR, os.path.join(HERE, "BenchDeploy.java")])
    return classes


def deploy_all(classes, port, pid, signed_files):
    """Runs the driver: one Deploy call per manifest, in order; returns one result per manifest."""
    out = run(["java", "-cp", AGENT_JAR + os.pathsep + classes, "BenchDeploy", str(port), str(pid), *signed_files])
    results = []
    for line in out.splitlines():
        if not line.startswith("{"):
            continue
        d = json.loads(line)
        r = d["report"]
        if r.get("outcome") != "OK":
            sys.exit("bench: deploy of %s: outcome %s: %s" % (d["manifest"], r.get("outcome"), r.get("error", "")))
        phases = {p["phase"]: int(p.get("millis", 0)) for p in r.get("phases", [])}
        fetched = sum(1 for a in r.get("artifacts", []) if a.get("source", "").endswith("MIRROR"))
        results.append({"agent_ms": int(r.get("total_ms", 0)), "fetched": fetched, "wall_s": d["wall_us"] / 1e6, "phases": phases,
                        "release": r.get("release"), "cpu_s": (d["agent_user_ms"] + d["agent_sys_ms"]) / 1000,
                        "user_s": d["agent_user_ms"] / 1000, "sys_s": d["agent_sys_ms"] / 1000})
    if len(results) != len(signed_files):
        sys.exit("bench: the driver reported %d of %d deploys:\n%s" % (len(results), len(signed_files), out[-4000:]))
    return results


def to_trash(work, path):
    """Moves a finished tree out of the way; deleted at the end, not while measuring."""
    if os.path.exists(path):
        trash = os.path.join(work, "trash")
        os.makedirs(trash, exist_ok=True)
        os.rename(path, os.path.join(trash, "%s-%d" % (os.path.basename(path), time.monotonic_ns())))


def build_breakdown(agent_log, release):
    """The agent's own breakdown of the latest build of a release (logged by the release builder), or None."""
    found = None
    for line in open(agent_log, encoding="utf-8", errors="replace"):
        m = BUILD_LINE.search(line)
        if m and m.group(1) == release:
            found = m.group(2).strip()
    return found


def check_release(release_dir, pins):
    """The release passes the real tools: pip list equals the pins, pip check is clean."""
    py = os.path.join(release_dir, "bin", "python")
    listed = json.loads(run([py, "-m", "pip", "list", "--format=json"], env=clean_env()))
    got = {(norm(d["name"]), d["version"]) for d in listed}
    want = {(norm(n), v) for n, v in pins}
    if got != want:
        sys.exit("bench: pip list of %s differs from the pins: missing %s, extra %s"
                 % (release_dir, sorted(want - got)[:10], sorted(got - want)[:10]))
    run([py, "-m", "pip", "check"], env=clean_env())


# ---------------------------------------------------------------- the operator's commands

LAUNCHER = os.path.join(REPO, "pinfleet")
# the CLI rows: (key, label, target as a multiple of `python -m pip --version` in the same run)
CLI_ROWS = [("version", "pinfleet --version", 0.5), ("verify", "pinfleet verify", 1.0), ("sign", "pinfleet sign", 1.0),
            ("freeze", "pinfleet freeze (loopback mirror)", 2.0), ("plan", "pinfleet plan (3 agents, mTLS)", 2.0),
            ("status", "pinfleet status (3 agents, mTLS)", 2.0)]


def cli_bench(work, python, py_ver, mirror_url, reqs, manifest, signed_file, key, trusted, runs):
    """The operator's commands against `python -m pip --version`, timed by hyperfine one after the other (pip
    first): each command as an operator starts it, through the repository's `pinfleet` launcher (its
    class-data sharing archive and flags). plan and status ask three agents on loopback over mutual TLS, through the
    controller embedded in pinfleet (records in WORK/cli/.pinfleet). Returns {key: {"median_s", "cpu_s"}}."""
    hyperfine = shutil.which("hyperfine") or sys.exit("bench: hyperfine not found (the CLI rows need it)")
    cli = os.path.join(work, "cli")
    pki = os.path.join(cli, "pki")
    os.makedirs(cli)
    pinfleet("certs", "init", pki)
    pinfleet("certs", "issue", "--role", "controller", "controller", "--dir", pki)
    agents, inventory = [], ["[web]"]
    try:
        for i in (1, 2, 3):
            name = "cli%d" % i
            pinfleet("certs", "issue", "--role", "agent", name, "--san", "127.0.0.1", "--dir", pki)
            port_file = os.path.join(cli, name + ".port")
            a = Process("agent " + name, ["java", "-jar", AGENT_JAR, "--node", name, "--root", os.path.join(cli, name),
                                          "--listen", "127.0.0.1:0", "--trusted-keys", trusted, "--mirrors", mirror_url,
                                          "--python", python, "--tls-cert", os.path.join(pki, name + ".crt"),
                                          "--tls-key", os.path.join(pki, name + ".key"),
                                          "--tls-ca", os.path.join(pki, "ca.crt"), "--port-file", port_file],
                        port_file, os.path.join(work, "logs", "agent-%s.log" % name))
            agents.append(a)
            inventory.append("%s ansible_host=127.0.0.1 pinfleet_agent_port=%d" % (name, a.port))
        inv = os.path.join(cli, "inventory.ini")
        with open(inv, "w") as f:
            f.write("\n".join(inventory) + "\n")
        cmds = [("pip", "%s -m pip --version" % python),
                ("version", "%s --version" % LAUNCHER),
                ("verify", "%s verify %s --trusted %s" % (LAUNCHER, signed_file, trusted)),
                ("sign", "%s sign %s --key %s -o %s" % (LAUNCHER, manifest, key, os.path.join(cli, "signed.json"))),
                ("freeze", "%s freeze %s --mirror %s --app bench --python %s -o %s" % (
                    LAUNCHER, reqs, mirror_url, py_ver, os.path.join(cli, "manifest.json"))),
                ("plan", "%s plan %s --inventory %s --tls-dir %s" % (LAUNCHER, signed_file, inv, pki)),
                ("status", "%s status --inventory %s --tls-dir %s" % (LAUNCHER, inv, pki))]
        for key, cmd in cmds:  # each must work before it is timed: a failing command is fast and meaningless
            r = subprocess.run(cmd.split(), cwd=cli, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=clean_env())
            if r.returncode != 0:
                sys.exit("bench: %s failed (exit %d):\n%s" % (cmd, r.returncode, r.stdout[-4000:]))
        res = {}
        for key, cmd in cmds:  # one hyperfine call per command, so that a failure names its command and output
            out_json = os.path.join(cli, "hyperfine-%s.json" % key)
            r = subprocess.run([hyperfine, "-N", "--warmup", "1", "--runs", str(runs), "--export-json", out_json,
                                "--style", "none", "--command-name", key, cmd], cwd=cli, stdout=subprocess.DEVNULL,
                               stderr=subprocess.PIPE, text=True, env=clean_env())
            if r.returncode != 0:
                again = subprocess.run(cmd.split(), cwd=cli, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                       env=clean_env())
                sys.exit("bench: %s failed while timed: %s\nrun again (exit %d):\n%s"
                         % (cmd, r.stderr.strip(), again.returncode, again.stdout[-4000:]))
            t = json.load(open(out_json))["results"][0]
            res[key] = {"median_s": t["median"], "cpu_s": t["user"] + t["system"]}
        return res
    finally:
        for a in agents:
            a.stop()


def report_cli(res, summary):
    """Prints the CLI rows (median wall time and mean CPU, each as a multiple of pip's) and adds them to the summary."""
    pip = res["pip"]
    summary.update(cli_pip_version_s=round(pip["median_s"], 3), cli_pip_version_cpu_s=round(pip["cpu_s"], 3))
    log("\nthe operator's commands (hyperfine, %d runs each, medians; CPU = user + system, mean):" % summary["cli_runs"])
    log("  %-36s %7.3f s  cpu %6.3f s" % ("python -m pip --version", pip["median_s"], pip["cpu_s"]))
    for key, label, target in CLI_ROWS:
        r = res[key]
        ratio, cpu_ratio = r["median_s"] / pip["median_s"], r["cpu_s"] / pip["cpu_s"]
        summary["cli_%s_s" % key] = round(r["median_s"], 3)
        summary["cli_%s_ratio" % key] = round(ratio, 3)
        summary["cli_%s_cpu_ratio" % key] = round(cpu_ratio, 3)
        log("  %-36s %7.3f s  cpu %6.3f s  = %5.2f x pip (cpu %5.2f x)   target <= %.1f x: %s" % (
            label, r["median_s"], r["cpu_s"], ratio, cpu_ratio, target, "met" if ratio <= target else "NOT met"))


# ---------------------------------------------------------------- main

def median(xs):
    return statistics.median(xs) if xs else float("nan")


def main():
    ap = argparse.ArgumentParser(prog="bench/run.sh", description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("wheels", metavar="WHEELS_DIR", help="directory holding the wheels (searched recursively)")
    ap.add_argument("requirements", metavar="REQUIREMENTS", help="pinned requirements (name==version per line)")
    ap.add_argument("--runs", type=int, default=5, help="rounds, each measuring every scenario once (default 5)")
    ap.add_argument("--python", default="python3", help="interpreter for pip's venvs and the agent (default python3)")
    ap.add_argument("--change", metavar="NAME", help="the distribution republished for the warm run "
                    "(default: the wheel of median size)")
    ap.add_argument("--work", metavar="DIR", help="working directory (default: a new temp directory, removed at "
                    "the end unless --keep)")
    ap.add_argument("--keep", action="store_true", help="keep the working directory")
    ap.add_argument("--install-parallelism", type=int, default=2, help="agent install-parallelism (default 2)")
    ap.add_argument("--fetch-parallelism", type=int, default=8, help="agent fetch-parallelism (default 8)")
    ap.add_argument("--agent-java-opts", default="", help="extra JVM options for the agent (write --agent-java-opts=\"-XX:...\"), e.g. a JFR recording")
    ap.add_argument("--skip-pip", action="store_true", help="measure the agent only (no ratios)")
    ap.add_argument("--cli-runs", type=int, default=10, help="hyperfine runs of each operator command (default 10)")
    ap.add_argument("--skip-cli", action="store_true", help="leave out the operator's commands (the CLI rows)")
    args = ap.parse_args()
    if args.runs < 1 or args.cli_runs < 1:
        sys.exit("bench: --runs and --cli-runs must be at least 1")
    for jar in (CONTROLLER_JAR, AGENT_JAR):
        if not os.path.isfile(jar):
            sys.exit("bench: %s is missing; build with: mvn -B -q -DskipTests package" % jar)
    python = shutil.which(args.python) or sys.exit("bench: %s not found" % args.python)
    py_ver = run([python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"]).strip()

    work = os.path.abspath(args.work) if args.work else tempfile.mkdtemp(prefix="pinfleet-bench-")
    os.makedirs(work, exist_ok=True)
    for sub in ("wheels", "mirror", "trusted", "keys", "logs", "changed"):
        if os.path.exists(os.path.join(work, sub)):
            sys.exit("bench: %s is not empty; pass a new --work directory" % work)
    mirror_proc = None
    try:
        pins = read_pins(args.requirements)
        wheels = collect_wheels(os.path.abspath(args.wheels), os.path.join(work, "wheels"))
        total_mb = sum(os.path.getsize(w) for w in wheels) / 1e6
        log("bench: %d pins, %d wheels (%.0f MB) from %s; python %s; work %s"
            % (len(pins), len(wheels), total_mb, args.wheels, py_ver, work))

        changed_src = pick_changed(wheels, pins, args.change)
        changed_name = norm(os.path.basename(changed_src).split("-")[0])
        os.makedirs(os.path.join(work, "changed"))
        # one new version of the changed wheel per round: every warm run fetches, unpacks and links a wheel no
        # release has held before, also on the agent that keeps running from round to round
        changed = [bump_wheel(changed_src, os.path.join(work, "changed"), local="pinfleetbench%d" % r)
                   for r in range(1, args.runs + 1)]
        log("bench: warm runs change %s -> %s ... (%d bytes)" % (os.path.basename(changed_src),
                                                                 os.path.basename(changed[0][0]),
                                                                 os.path.getsize(changed[0][0])))
        reqs = {"a": os.path.join(work, "reqs-a.txt")}
        with open(reqs["a"], "w") as f:
            f.writelines("%s==%s\n" % (n, v) for n, v in pins)
        for r, (_, ver) in enumerate(changed, start=1):
            reqs["b%d" % r] = os.path.join(work, "reqs-b%d.txt" % r)
            with open(reqs["b%d" % r], "w") as f:
                f.writelines("%s==%s\n" % (n, ver if norm(n) == changed_name else v) for n, v in pins)
        # two one-wheel manifests (two more versions of the changed wheel, which A does not hold): deploying both
        # to the running agent makes A's release fall out of its kept releases (--keep-releases 2), so the agent's
        # own garbage collection empties its store and cache of A's wheels before each "cold, running agent" run
        for label in ("t1", "t2"):
            path, ver = bump_wheel(changed_src, os.path.join(work, "changed"), local="pinfleetbench" + label)
            changed.append((path, ver))
            reqs[label] = os.path.join(work, "reqs-%s.txt" % label)
            with open(reqs[label], "w") as f:
                f.write("%s==%s\n" % (changed_name, ver))

        mirror = os.path.join(work, "mirror")
        pinfleet("mirror", "init", "--mirror", mirror)
        with open(os.path.join(mirror, "policy", "version")) as f:
            policy = f.read().strip()
        pinfleet("mirror", "acknowledge", "--as", "bench", "--policy-version", policy, "--mirror", mirror)
        pinfleet("mirror", "publish", "--mirror", mirror, "--as", "bench", *wheels, *[c for c, _ in changed])
        pinfleet("keygen", os.path.join(work, "keys", "bench"))
        os.makedirs(os.path.join(work, "trusted"))
        os.makedirs(os.path.join(work, "logs"))
        shutil.copy(os.path.join(work, "keys", "bench.pub"), os.path.join(work, "trusted", "bench.pub"))
        mirror_proc = Process("mirror", ["java", "-jar", CONTROLLER_JAR, "mirror", "serve", "--mirror", mirror, "--port", "0",
                                         "--port-file", os.path.join(work, "mirror.port")],
                              os.path.join(work, "mirror.port"), os.path.join(work, "logs", "mirror.log"))
        mirror_url = "http://127.0.0.1:%d/" % mirror_proc.port

        def signed(label, serial):
            m = os.path.join(work, "manifest-%s-%d.json" % (label, serial))
            out = os.path.join(work, "manifest-%s-%d.signed.json" % (label, serial))
            if not os.path.exists(out):
                pinfleet("freeze", reqs[label], "--mirror", mirror_url, "--app", "bench", "--serial", str(serial),
                         "--python", py_ver, "-o", m)
                pinfleet("sign", m, "--key", os.path.join(work, "keys", "bench.key"), "-o", out)
            return out

        classes = compile_driver(work)
        load_start = os.getloadavg()
        log("bench: load average at start %.2f %.2f %.2f (1, 5, 15 min; the machine may be shared)" % load_start)
        cli_res = None
        if not args.skip_cli:
            cli_res = cli_bench(work, python, py_ver, mirror_url, reqs["a"], os.path.join(work, "manifest-a-1.json"),
                                signed("a", 1), os.path.join(work, "keys", "bench.key"), os.path.join(work, "trusted"),
                                args.cli_runs)
        pip_links = os.path.join(work, "wheels")
        results = {k: [] for k in ("pip", "pip_nc") + SCENARIOS}
        breakdown = {k: [] for k in SCENARIOS if not k.startswith("rollback")}
        java_opts = args.agent_java_opts.split()
        os.makedirs(os.path.join(work, "root-running"))

        def start_agent(root, label):
            port_file = os.path.join(work, "agent-%s.port" % label)
            if os.path.exists(port_file):
                os.remove(port_file)
            agent_log = os.path.join(work, "logs", "agent-%s.log" % label)
            return Process("agent", ["java", *java_opts, "-jar", AGENT_JAR, "--node", "bench", "--root", root,
                                     "--listen", "127.0.0.1:0", "--plaintext", "true",
                                     "--trusted-keys", os.path.join(work, "trusted"),
                                     "--mirrors", mirror_url, "--python", python, "--keep-releases", "2",
                                     "--install-parallelism", str(args.install_parallelism),
                                     "--fetch-parallelism", str(args.fetch_parallelism),
                                     "--port-file", port_file], port_file, agent_log)

        def record(keys, rs, agent_log):
            for key, r in zip(keys, rs):
                if key is None:
                    continue
                results[key].append(r)
                ph = " ".join("%s %d" % (p.lower(), r["phases"].get(p, 0)) for p in PHASES)
                log("  %-24s %7.3f s agent-side (call %.3f s wall; agent cpu %.2f s = user %.2f + sys %.2f)"
                    "  fetched %d  phases ms: %s" % (LABELS[key], r["agent_ms"] / 1000, r["wall_s"], r["cpu_s"],
                                                     r["user_s"], r["sys_s"], r["fetched"], ph))
                if key in breakdown:
                    b = build_breakdown(agent_log, r["release"])
                    if b:
                        breakdown[key].append(b)
                        log("             install: " + b)
                if key.startswith("cold") and r["fetched"] != len(pins):
                    sys.exit("bench: %s fetched %d of %d wheels: store or cache was not empty"
                             % (key, r["fetched"], len(pins)))

        running = start_agent(os.path.join(work, "root-running"), "running")
        try:
            for rnd in range(1, args.runs + 1):
                log("\nround %d of %d" % (rnd, args.runs))

                def pip_side():
                    if args.skip_pip:
                        return
                    for key, compile_ in (("pip", True), ("pip_nc", False)):
                        venv = os.path.join(work, "venv")
                        r = pip_run(python, pip_links, reqs["a"], venv, compile_)
                        to_trash(work, venv)
                        results[key].append(r)
                        log("  %-24s %7.2f s  (venv %.2f s, install %.2f s; cpu %.2f s)" % (
                            "pip" if compile_ else "pip --no-compile", r["total_s"], r["venv_s"], r["install_s"],
                            r["cpu_s"]))

                def new_agent_side():
                    root = os.path.join(work, "root-new")
                    agent = start_agent(root, "new-%d" % rnd)
                    try:
                        rs = deploy_all(classes, agent.port, agent.proc.pid,
                                        [signed("a", 1), signed("b%d" % rnd, 2), signed("a", 3)])
                        record(("cold_new", "warm_new", "rollback_new"), rs, agent.log_file)
                        if rnd == 1:
                            check_release(os.path.join(root, "apps", "bench", "releases", rs[0]["release"]), pins)
                            log("             pip list / pip check of the cold release: ok (%d distributions)"
                                % len(pins))
                    finally:
                        agent.stop()
                    to_trash(work, root)

                def running_agent_side():
                    base = 10 * rnd
                    rs = deploy_all(classes, running.port, running.proc.pid,
                                    [signed("t1", base + 1), signed("t2", base + 2), signed("a", base + 3),
                                     signed("b%d" % rnd, base + 4), signed("a", base + 5)])
                    record((None, None, "cold_running", "warm_running", "rollback_running"), rs, running.log_file)

                sides = [pip_side, new_agent_side, running_agent_side]
                for side in sides[rnd % 3:] + sides[:rnd % 3]:
                    side()
        finally:
            running.stop()

        summary = summarize(results, args, len(pins), len(wheels), total_mb, breakdown)
        if cli_res:
            summary["cli_runs"] = args.cli_runs
            report_cli(cli_res, summary)
        load_end = os.getloadavg()
        summary.update(load_avg_start=[round(x, 2) for x in load_start], load_avg_end=[round(x, 2) for x in load_end])
        log("\nload average at start %.2f %.2f %.2f, at end %.2f %.2f %.2f (1, 5, 15 min): figures from a busy machine "
            "are slower in wall time; the CPU columns and the ratios to pip in the same run are the steadier ones"
            % (load_start + load_end))
        log("\nBENCH " + json.dumps(summary, sort_keys=True))
    finally:
        if mirror_proc:
            mirror_proc.stop()
        if not args.keep:
            shutil.rmtree(os.path.join(work, "trash"), ignore_errors=True)
            if not args.work:
                shutil.rmtree(work, ignore_errors=True)


def summarize(results, args, n_pins, n_wheels, total_mb, breakdown):
    s = {"runs": args.runs, "pins": n_pins, "wheels": n_wheels, "wheel_mb": round(total_mb, 1),
         "install_parallelism": args.install_parallelism, "cores": os.cpu_count()}
    log("\nmedians over %d rounds:" % args.runs)
    if results["pip"]:
        pip_s = median([r["total_s"] for r in results["pip"]])
        pip_nc_s = median([r["total_s"] for r in results["pip_nc"]])
        s.update(pip_s=round(pip_s, 3), pip_nocompile_s=round(pip_nc_s, 3),
                 pip_venv_s=round(median([r["venv_s"] for r in results["pip"]]), 3),
                 pip_cpu_s=round(median([r["cpu_s"] for r in results["pip"]]), 3),
                 pip_nocompile_cpu_s=round(median([r["cpu_s"] for r in results["pip_nc"]]), 3))
        log("  pip (venv + install)          %8.3f s" % pip_s)
        log("  pip --no-compile              %8.3f s" % pip_nc_s)
    else:
        pip_s = pip_nc_s = None
    for key in SCENARIOS:
        rs = results[key]
        agent_s = median([r["agent_ms"] for r in rs]) / 1000
        wall_s = median([r["wall_s"] for r in rs])
        phases = {p.lower(): median([r["phases"].get(p, 0) for r in rs]) for p in PHASES}
        s[key + "_s"] = round(agent_s, 4)
        s[key + "_wall_s"] = round(wall_s, 4)
        s[key + "_agent_cpu_s"] = round(median([r["cpu_s"] for r in rs]), 3)
        s[key + "_phases_ms"] = phases
        line = "  %-24s agent-side %8.3f s  call wall %8.3f s  agent cpu %6.2f s" % (
            LABELS[key], agent_s, wall_s, s[key + "_agent_cpu_s"])
        if pip_s:
            s[key + "_ratio"] = round(agent_s / pip_s, 4)
            s[key + "_ratio_nocompile"] = round(agent_s / pip_nc_s, 4)
            # the same ratio round by round (agent and pip of one round ran minutes apart, on the same machine
            # state): steadier than the ratio of the medians when the machine's speed drifts during the run
            per_round = median([r["agent_ms"] / 1000 / p["total_s"] for r, p in zip(rs, results["pip"])])
            s[key + "_ratio_per_round"] = round(per_round, 4)
            line += "   = %.4f x pip (per-round median %.4f), %.4f x pip --no-compile" % (
                agent_s / pip_s, per_round, agent_s / pip_nc_s)
        log(line)
        log("        phases (median ms): " + ", ".join("%s %g" % kv for kv in phases.items()))
    for key in ("rollback_new", "rollback_running"):
        s[key + "_ms"] = round(s[key + "_s"] * 1000, 1)
    for key, lines in breakdown.items():
        if lines:
            log("  %s install breakdown (round 1): %s" % (LABELS[key], lines[0]))
    if pip_s:
        def verdict(ok):
            return "met" if ok else "NOT met"
        log("\ntargets (issue 16, against pip in this run):")
        for agent in ("new", "running"):
            cold, warm, rollback_ms = TARGETS[agent]
            log("  %-15s cold <= %g x pip: %s (%.4f, per round %.4f); warm <= %g x pip: %s (%.4f, per round %.4f);"
                " rollback <= %d ms: %s (%.1f ms)"
                % (("new process" if agent == "new" else "running agent") + ":",
                   cold, verdict(max(s["cold_%s_ratio" % agent], s["cold_%s_ratio_per_round" % agent]) <= cold),
                   s["cold_%s_ratio" % agent], s["cold_%s_ratio_per_round" % agent],
                   warm, verdict(max(s["warm_%s_ratio" % agent], s["warm_%s_ratio_per_round" % agent]) <= warm),
                   s["warm_%s_ratio" % agent], s["warm_%s_ratio_per_round" % agent],
                   rollback_ms, verdict(s["rollback_%s_ms" % agent] <= rollback_ms), s["rollback_%s_ms" % agent]))
    return s


if __name__ == "__main__":
    main()
