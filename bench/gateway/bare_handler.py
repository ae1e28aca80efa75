"""Calibration only: the bare FastAPI + HMAC + JetStream handler the gateway's target was derived from.

Reads the raw body, checks the HMAC with ``hmac.compare_digest`` and publishes to JetStream awaiting the
PubAck; nothing else (no size cap, no JSON check, no metrics, no tracing). Run it through the benchmark to
see what this machine can do at all:

    .venv/bin/python bench/gateway/run.py --server-cmd ".venv/bin/uvicorn --app-dir bench/gateway \\
      bare_handler:app --port {port} --loop uvloop --http httptools --no-access-log"

(its stored/accepted check then fails: this handler exposes no metrics.) Uses the benchmark's environment:
ARGOAI_NATS_URL, ARGOAI_NATS_PREFIX, ARGOAI_GITHUB_WEBHOOK_SECRET.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import nats
from fastapi import FastAPI, Request, Response
from nats.js.api import StreamConfig

SECRET = os.environ.get("ARGOAI_GITHUB_WEBHOOK_SECRET", "").encode()
PREFIX = os.environ.get("ARGOAI_NATS_PREFIX", "BENCH")
state: dict[str, object] = {}


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    nc = await nats.connect(os.environ["ARGOAI_NATS_URL"])
    js = nc.jetstream()
    subjects = [f"{PREFIX.lower()}.webhooks.>"]
    await js.add_stream(StreamConfig(name=f"{PREFIX}_WEBHOOKS", subjects=subjects, duplicate_window=900))
    state["js"] = js
    yield
    await nc.close()


app = FastAPI(lifespan=lifespan, telemetry={"tracing": False, "metrics": False, "logs": False})


@app.post("/webhooks/github")
async def webhook(request: Request) -> Response:
    body = await request.body()
    expected = "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, request.headers.get("x-hub-signature-256", "")):
        return Response(status_code=401)
    js = state["js"]
    assert isinstance(js, nats.js.JetStreamContext)
    await js.publish(
        f"{PREFIX.lower()}.webhooks.pull_request",
        body,
        headers={"Nats-Msg-Id": request.headers["x-github-delivery"]},
    )
    return Response(status_code=202)


@app.get("/readyz")
async def readyz() -> Response:
    return Response(status_code=200 if "js" in state else 503)
