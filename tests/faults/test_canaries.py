"""Security canaries: secrets planted in the processes' environment and in the diff never reach the LLM,
GitHub (reviews, comments) or any log line; neither do webhook signatures nor installation tokens."""

from __future__ import annotations

import secrets
import string

import pytest

from faults.helpers import FAST, FULL_NAME, comments, dead_letters, head, open_pr, opened, reviews, settle
from faults.report import Tally
from support.fake_llm import Reply
from support.system import ArgoSystem, wait_until

pytestmark = pytest.mark.faults


def _alnum(n: int, alphabet: str = string.ascii_letters + string.digits) -> str:
    return "".join(secrets.choice(alphabet) for _ in range(n))


def test_planted_secrets_reach_no_prompt_no_post_and_no_log(argo: ArgoSystem, tally: Tally) -> None:
    """Env canaries (LLM key, App key, webhook secret, AWS secret) and diff canaries (GitHub token, AWS key
    id, private key block), through retries and a failing PR, appear in no LLM request, post or log line."""
    llm_key = f"sk-canary{_alnum(32)}"
    webhook_secret = f"whsec-canary-{_alnum(24)}"
    aws_env = _alnum(40)
    ghp = f"ghp_{_alnum(36)}"
    akia = f"AKIA{_alnum(16, string.ascii_uppercase + string.digits)}"
    key_lines = [_alnum(64) for _ in range(4)]
    planted_env = {llm_key, webhook_secret, aws_env}
    app_key_lines = {line for line in argo.private_key.splitlines() if len(line) >= 40}
    planted_diff = {ghp, akia, *key_lines}

    argo.fake_llm.api_key = llm_key
    argo.webhook_secret = webhook_secret
    argo.extra_env.update(
        {"ARGOAI_LLM_API_KEY": llm_key, "AWS_SECRET_ACCESS_KEY": aws_env, "GITHUB_TOKEN": ghp}
    )
    leaky = (
        "import os\n"
        f'TOKEN = "{ghp}"  # FIXME-BUG hard-coded token\n'
        f'AWS_ACCESS_KEY_ID = "{akia}"\n'
        f'KEY = """-----BEGIN RSA PRIVATE KEY-----\n'
        + "\n".join(key_lines)
        + '\n-----END RSA PRIVATE KEY-----"""\n'
    )
    open_pr(argo, 7, head(7), path="settings.py", text=leaky)
    open_pr(argo, 8, head(8), path="config.py", text=leaky)
    # Error paths log more: a 5xx from the LLM and from GitHub, and PR 8's review failing for good.
    argo.fake_llm.enqueue(Reply.server_error(502))
    argo.fake_github.fail_next(1, status=502, path_contains="/pulls/7/files")
    argo.fake_github.fail_next(10_000, status=404, path_contains="/pulls/8/files")
    argo.start_gateway()
    argo.start_reviewer(**FAST)
    signatures = []
    for number in (7, 8):
        response = tally.sent(argo.send("pull_request", opened(argo, number, head(number))))
        signatures.append(response.request.headers["X-Hub-Signature-256"])
    tally.expect(FULL_NAME, 7, head(7))
    tally.forbid(FULL_NAME, 8, head(8))
    wait_until(lambda: len(reviews(argo, 7)) == 1 and len(comments(argo, 8)) == 1, 30, "review and comment")
    settle(argo)
    tally.jobs_dead_lettered = len(dead_letters(argo))
    tally.observe(argo.fake_github)

    tokens = set(argo.fake_github.tokens)
    canaries = (
        planted_env
        | app_key_lines
        | planted_diff
        | set(signatures)
        | {s.split("=", 1)[1] for s in signatures}
    )
    canaries |= tokens
    prompts = "\n".join(r.text for r in argo.fake_llm.requests)
    posted = "\n".join(
        [r.body + "".join(c["body"] for c in r.comments) for n in (7, 8) for r in reviews(argo, n)]
        + [c.body for n in (7, 8) for c in comments(argo, n)]
    )
    logs = argo.logs()
    leaks = {
        where: sorted(c[:12] + "…" for c in canaries if c in text)
        for where, text in (("LLM requests", prompts), ("GitHub posts", posted), ("logs", logs))
    }
    tally.canaries_planted = len(canaries)
    tally.canaries_leaked = sum(len(found) for found in leaks.values())
    assert tokens, "the reviewer used installation tokens"
    # The diff did reach the model, its secret lines redacted rather than dropped.
    assert "FIXME-BUG" in prompts
    assert 'TOKEN = "' in prompts
    assert "BEGIN RSA PRIVATE KEY" not in prompts
    assert len(logs) > 5_000  # DEBUG logs of three processes were searched
    assert leaks == {"LLM requests": [], "GitHub posts": [], "logs": []}
