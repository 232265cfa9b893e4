"""Shared bench plumbing: a sandbox in a child process, the connector CLI as a child process, stats."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable


@contextmanager
def sandbox_process(*args: str):
    """Start `connector sandbox --port 0 ...`; yield its base URL; stop it."""
    proc = subprocess.Popen([PYTHON, "-m", "connector", "sandbox", "--port", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        started = time.monotonic()
        url = proc.stdout.readline().strip()
        if not url.startswith("http"):
            raise RuntimeError("sandbox did not start: " + proc.stderr.read())
        print(f"sandbox {' '.join(args)} serving at {url} after {time.monotonic() - started:.1f}s", flush=True)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def connector_env(base_url: str, db_path: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUBSPOT_", "DATABASE_URL"))}
    env.update({"HUBSPOT_ACCESS_TOKEN": "pat-sandbox", "HUBSPOT_API_BASE": base_url,
                "DATABASE_URL": f"sqlite:///{db_path}", "SCORING_CONFIG": str(ROOT / "config" / "scoring.yaml")})
    env.update(extra)
    return env


def run_connector(env: dict[str, str], *args: str, check: bool = True) -> tuple[float, subprocess.CompletedProcess]:
    started = time.monotonic()
    done = subprocess.run([PYTHON, "-m", "connector", "--env-file", os.devnull, *args], env=env, cwd=ROOT,
                          capture_output=True, text=True)
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
