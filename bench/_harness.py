"""Shared bench plumbing: a sandbox in a child process, the connector CLI as a child process, stats."""

from __future__ import annotations

import compileall
import functools
import http.client
import json
import os
import shlex
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


# `connector sandbox ...` with the generator's "now" pinned (SandboxConfig.now, which the CLI does
# not expose): two sandboxes started seconds apart then hold the very same portal, to the ms.
_PINNED_SANDBOX = """import argparse, dataclasses, sys
from datetime import datetime, timezone
from connector.sandbox import cli
now = datetime.fromtimestamp(float(sys.argv[1]), timezone.utc) if sys.argv[1] else None
parser = argparse.ArgumentParser(prog="connector sandbox")
cli.add_arguments(parser)
args = parser.parse_args(sys.argv[2:])
config_from_args = cli.config_from_args
if now is not None:
    cli.config_from_args = lambda a: dataclasses.replace(config_from_args(a), now=now)
sys.exit(cli.run(args))
"""


# Opt-in for very large portals (bench/memory.py): the sandbox's search filters and sorts every
# record for every page (about 1.5 s a page at 200,000 contacts on this machine, so a full walk
# takes ~15-25 min of sandbox CPU). This keeps, per query whose filters are all on hs_object_id, the
# ordered ids of its matches and serves each page (offset) from them. Membership of such a query
# cannot change while contacts are only updated (the cache is keyed by the contact count too), and
# records are rendered fresh: the answers are the same, only cheaper. Nothing of the connector is touched.


@contextmanager
def sandbox_process(*args: str, now: float | None = None):
    """Start `connector sandbox --port 0 ...`; yield its base URL; stop it.
    `now` (epoch seconds) pins the generator's "now" (default: the sandbox's start)."""
    if now is None:
        command = [PYTHON, "-m", "connector", "sandbox"]
    else:
        command = [PYTHON, "-c", _PINNED_SANDBOX, str(now)]
    proc = subprocess.Popen([*command, "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        started = time.monotonic()
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("sandbox did not start: " + proc.stderr.read())
        shown = ["***" if i and args[i - 1] == "--client-secret" else a for i, a in enumerate(args)]
        print(f"sandbox {' '.join(shown)} serving at {url} after {time.monotonic() - started:.1f}s", flush=True)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


# `connector ...` with a frozen wall clock when the env has BENCH_FROZEN_EPOCH: every contact is then
# scored at the same instant, whatever the run's speed, retries and kills. Scores decay with time
# (half-life 30 days), so two runs of one portal seconds apart legitimately differ by a rounding
# step on a few contacts in 10,000; the fault and kill benches freeze the clock to compare exactly.
# Only time.time moves no more: the rate limiter, retries and timeouts run on time.monotonic.
_FROZEN_CONNECTOR = """import os, sys, time
frozen = float(os.environ["BENCH_FROZEN_EPOCH"])
time.time = lambda: frozen
time.time_ns = lambda: int(frozen * 1e9)
from connector.cli import main
sys.exit(main(sys.argv[1:]))
"""


@functools.cache
def _compiled() -> None:
    """The checkout's modules compiled before anything is timed, as pip compiles a wheel's (and
    scripts/install does): where PYTHONDONTWRITEBYTECODE is set, as in this project's sandbox
    machines, every `connector` process would otherwise compile them again (60-90 ms of its start)."""
    compileall.compile_dir(str(ROOT / "connector"), quiet=1)


def connector_command(env: dict[str, str]) -> list[str]:
    _compiled()
    if env.get("BENCH_FROZEN_EPOCH"):
        return [PYTHON, "-c", _FROZEN_CONNECTOR]
    return [PYTHON, "-m", "connector"]


def connector_env(base_url: str, db_path: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "DATABASE_URL"))}
    env.update({"HUBSPOT_ACCESS_TOKEN": "pat-sandbox", "HUBSPOT_API_BASE": base_url,
                "DATABASE_URL": f"sqlite:///{db_path}",
                "SCORING_CONFIG": str(ROOT / "connector" / "defaults" / "scoring.yaml")})
    env.update(extra)
    return env


def run_connector(env: dict[str, str], *args: str, check: bool = True,
                  timeout: float | None = None) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    done = subprocess.run([*connector_command(env), "--env-file", os.devnull, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=timeout)
    took = time.monotonic() - started
    if check and done.returncode != 0:
        raise RuntimeError(f"connector {' '.join(args)} exited {done.returncode}: {done.stderr[-2000:]}")
    return took, done


def stats(base_url: str) -> dict:
    with urllib.request.urlopen(base_url + "/_sandbox/stats") as r:
        return json.loads(r.read())


def reset_stats(base_url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(base_url + "/_sandbox/stats/reset", data=b"", method="POST")).read()


def total_requests(s: dict) -> int:
    return sum(s["requests"].values())


def temp_db() -> str:
    return os.path.join(tempfile.mkdtemp(prefix="connector-bench-"), "state.db")


# -- additions for bench/faults.py, bench/kill_sync.py and bench/memory.py ----------------------

# What "the final state of a contact" means in the fault and kill benches: the values the connector
# decides. lsc_last_scored and lsc_mql_date are write times, different in every run by design.
STATE_PROPERTIES = ("hs_lead_status", "lifecyclestage", "lsc_score", "lsc_fit_score", "lsc_engagement_score",
                    "lsc_grade", "lsc_reasons", "lsc_qualification_path")


def spawn_connector(env: dict[str, str], *args: str, **popen_kw) -> subprocess.Popen:
    """`connector ...` as a child process the caller waits on (or kills)."""
    popen_kw.setdefault("stdout", subprocess.PIPE)
    popen_kw.setdefault("stderr", subprocess.PIPE)
    return subprocess.Popen([*connector_command(env), "--env-file", os.devnull, *args], env=env, cwd=ROOT,
                            text=True, **popen_kw)


def read_portal(base_url: str, properties=STATE_PROPERTIES, *, token: str = "pat-sandbox",
                deadline_s: float = 120.0) -> tuple[dict[str, dict], int]:
    """Every contact's `properties`, through the list endpoint (100 a page), as any API client
    would read them: retried on 429 (Retry-After, else 1 s), 5xx and dropped connections, so it
    works against a sandbox with --faults. Returns ({id: {property: value}}, requests made)."""
    found: dict[str, dict] = {}
    query = f"limit=100&properties={','.join(properties)}"
    requests = 0
    for page, calls in _list_pages(base_url, query, token, deadline_s):
        requests += calls
        for c in page:
            found[str(c["id"])] = {p: c["properties"].get(p) for p in properties}
    return found, requests


def read_history(base_url: str, prop: str, *, token: str = "pat-sandbox",
                 deadline_s: float = 120.0) -> tuple[dict[str, list[dict]], int]:
    """Every contact's history of `prop` (newest first; HubSpot caps such pages at 50)."""
    found: dict[str, list[dict]] = {}
    requests = 0
    query = f"limit=50&properties={prop}&propertiesWithHistory={prop}"
    for page, calls in _list_pages(base_url, query, token, deadline_s):
        requests += calls
        for c in page:
            found[str(c["id"])] = (c.get("propertiesWithHistory") or {}).get(prop, [])
    return found, requests


def _list_pages(base_url: str, query: str, token: str, deadline_s: float):
    """GET /crm/v3/objects/contacts?query, page after page: yields (results, requests it took)."""
    import http.client
    from urllib.parse import urlsplit

    netloc = urlsplit(base_url).netloc
    headers = {"Authorization": f"Bearer {token}"}
    after = ""
    give_up = time.monotonic() + deadline_s
    conn = http.client.HTTPConnection(netloc, timeout=30)
    try:
        while True:
            path = f"/crm/v3/objects/contacts?{query}" + (f"&after={after}" if after else "")
            calls = 0
            while True:
                if time.monotonic() > give_up:
                    raise RuntimeError(f"reading the portal at {base_url} took over {deadline_s:.0f}s")
                calls += 1
                try:
                    conn.request("GET", path, headers=headers)
                    resp = conn.getresponse()
                    raw = resp.read()
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(netloc, timeout=30)
                    time.sleep(0.05)
                    continue
                if resp.status == 200:
                    break
                if resp.status == 429:
                    time.sleep(float(resp.getheader("Retry-After") or 1.0))
                    continue
                if resp.status >= 500:
                    time.sleep(0.05)
                    continue
                raise RuntimeError(f"GET {path} answered {resp.status}: {raw[:300]!r}")
            body = json.loads(raw)
            yield body["results"], calls
            after = (body.get("paging") or {}).get("next", {}).get("after", "")
            if not after:
                return
    finally:
        conn.close()


def compare_portals(expected: dict[str, dict], actual: dict[str, dict]) -> list[str]:
    """Human-readable differences between two {id: {property: value}} maps (empty: identical)."""
    diffs: list[str] = []
    for cid in sorted(set(expected) | set(actual), key=lambda x: (len(x), x)):
        a, b = expected.get(cid), actual.get(cid)
        if a is None or b is None:
            diffs.append(f"contact {cid}: only in {'actual' if a is None else 'expected'}")
            continue
        for prop in sorted(set(a) | set(b)):
            if a.get(prop) != b.get(prop):
                diffs.append(f"contact {cid} {prop}: expected {a.get(prop)!r}, got {b.get(prop)!r}")
    return diffs


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# -- the production web process (the Procfile's `web:` line) -------------------------------------


def procfile_web_line(procfile: Path = ROOT / "Procfile") -> str:
    """The Procfile's `web:` command line, as written."""
    for line in procfile.read_text().splitlines():
        if line.startswith("web:"):
            return line.split(":", 1)[1].strip()
    raise SystemExit(f"{procfile}: no web: line")


def web_command(port: int, *extra: str, host: str = "127.0.0.1") -> list[str]:
    """The Procfile's `web:` command as an argv: `$PORT` set to `port`, `python` this interpreter
    (the venv's), `--host` set to `host` (benches talk only to loopback; the Procfile binds what a
    platform needs), `extra` arguments appended (e.g. `--threads 8`)."""
    argv = shlex.split(procfile_web_line().replace("${PORT}", str(port)).replace("$PORT", str(port)))
    if argv and argv[0] in ("python", "python3"):
        argv[0] = PYTHON
    if "--host" in argv:
        argv[argv.index("--host") + 1] = host
    else:
        argv += ["--host", host]
    return [*argv, *extra]


def shown(argv: list[str]) -> str:
    """An argv for printing: the interpreter's path shortened to its name."""
    return shlex.join([Path(argv[0]).name if argv[0] == PYTHON else argv[0], *argv[1:]])


def start_web(env: dict[str, str], port: int, log_path: Path, *extra: str, ready_path: str = "/healthz",
              timeout_s: float = 30.0, **popen_kw) -> subprocess.Popen:
    """Start the production web process (`web_command`) with `env`, its output appended to `log_path`;
    return once it answers 200 on `ready_path` (`/readyz` also needs the store)."""
    popen_kw.setdefault("stdout", log_path.open("ab"))
    popen_kw.setdefault("stderr", subprocess.STDOUT)
    server = subprocess.Popen(web_command(port, *extra), env=env, cwd=ROOT, **popen_kw)
    try:
        wait_until_answering(port, server, log_path, path=ready_path, timeout_s=timeout_s)
    except BaseException:
        stop_process(server)
        raise
    return server


def wait_until_answering(port: int, server: subprocess.Popen, log_path: Path, path: str = "/healthz",
                         timeout_s: float = 30.0) -> None:
    """Until the web process on 127.0.0.1:`port` answers 200 on `path` (one waitress process: once
    it answers, it is up); SystemExit if it exits or does not answer within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit(f"web process exited ({server.returncode}):\n{log_path.read_text()[-2000:]}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            try:
                conn.request("GET", path)
                if conn.getresponse().status == 200:
                    return
            finally:
                conn.close()
        except (OSError, http.client.HTTPException):
            pass
        time.sleep(0.1)
    raise SystemExit(f"web process did not answer {path} within {timeout_s:g} s")


def machine() -> str:
    """nproc, CPU model, Python: printed by every bench so figures carry their context."""
    model = "unknown CPU"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{os.cpu_count()} CPUs, {model}, Python {sys.version.split()[0]}"


# -- additions for bench/sync.py (issue 14) ------------------------------------------------------


def sandbox_cpu_s(base_url: str) -> float:
    """CPU seconds (user + sys) the sandbox process serving `base_url` has used so far (Linux
    /proc; 0.0 where it cannot be found): a bench shows what the box spent on HubSpot's side."""
    port = base_url.rsplit(":", 1)[-1].rstrip("/")
    try:
        listening = subprocess.run(["ss", "-Hltnp", f"sport = :{port}"], capture_output=True, text=True).stdout
        pid = int(listening.split("pid=", 1)[1].split(",", 1)[0])
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError, ValueError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
