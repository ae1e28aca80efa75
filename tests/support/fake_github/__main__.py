"""Run the fake GitHub as its own process: ``PYTHONPATH=tests python -m support.fake_github --help``."""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
from pathlib import Path

import uvicorn

from support.fake_github.api import build_app
from support.fake_github.server import FakeGitHub
from support.keys import new_app_key


def main() -> None:
    """Start the fake with one App and installation; print how to reach it as one JSON line."""
    parser = argparse.ArgumentParser(prog="python -m support.fake_github", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port (printed)")
    parser.add_argument("--app-id", type=int, default=4242)
    parser.add_argument("--installation-id", type=int, default=77)
    parser.add_argument("--key-out", type=Path, help="write the App's private key (PKCS#1 PEM) here")
    parser.add_argument("--token-lifetime", type=float, default=3600.0)
    parser.add_argument("--content-limit-per-minute", type=int, default=None)
    parser.add_argument("--max-patch-lines", type=int, default=3000, help="omit larger files' patch")
    args = parser.parse_args()

    fake = FakeGitHub(
        token_lifetime=args.token_lifetime,
        content_limit_per_minute=args.content_limit_per_minute,
        max_patch_lines=args.max_patch_lines,
    )
    key = new_app_key()
    fake.install_app(args.app_id, args.installation_id, key=key)
    if args.key_out:
        args.key_out.write_text(key.pkcs1)
        os.chmod(args.key_out, 0o600)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(128)  # accept (queue) connections from the moment the URL is printed
    url = f"http://{args.host}:{sock.getsockname()[1]}"
    archive_sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    archive_sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    archive_sock.bind((args.host, 0))
    archive_sock.listen(128)
    fake.codeload_url = f"http://{args.host}:{archive_sock.getsockname()[1]}"
    info = {
        "url": url,
        "ghes_url": url + "/api/v3",
        "app_id": args.app_id,
        "installation_id": args.installation_id,
        "private_key_file": str(args.key_out) if args.key_out else None,
    }
    print(json.dumps(info), flush=True)
    server = uvicorn.Server(
        uvicorn.Config(build_app(fake), log_level="warning", access_log=False, lifespan="off")
    )
    server.run(sockets=[sock, archive_sock])
    sys.exit(0)


if __name__ == "__main__":
    main()
