"""End to end, deep review: the model sees the unchanged code the change needs, and large pull requests lose
nothing to GitHub's missing patches (real gateway and reviewer processes, fake GitHub and LLM)."""

from __future__ import annotations

from pathlib import Path

from support.fake_github import FakeFile
from support.fake_llm import PERSONALITIES, AgentResponder, EvidenceResponder, MarkerResponder
from support.system import OWNER, ArgoSystem, pull_request_payload, wait_until


def _summary(system: ArgoSystem, repo: str, number: int) -> str:
    """The body of the pull request's summary comment ("" before there is one)."""
    bodies = [
        c.body for c in system.fake_github.comments_posted(OWNER, repo, number) if "argoai:summary" in c.body
    ]
    return bodies[0] if bodies else ""


BASE, HEAD = "b" * 40, "1" * 40
PRICING = (
    "def apply_discount(price, percent):\n"
    '    """The price reduced by ``percent`` percent (0-100)."""\n'
    "    return price * (100 - percent) / 100\n"
)
CART = (
    "from shop.pricing import apply_discount\n"
    "\n"
    "\n"
    "def checkout_total(items):\n"
    "    subtotal = sum(item.price for item in items)\n"
    "    return apply_discount(subtotal, 0.15)\n"
)
CART_PATCH = "@@ -0,0 +1,6 @@\n" + "".join(f"+{line}" for line in CART.splitlines(keepends=True))
CALL = "    return apply_discount(subtotal, 0.15)"
POLICIES = """\
apiVersion: argoai.dev/v1alpha1
kind: ReviewPolicy
metadata: {name: default}
spec: {}
---
apiVersion: argoai.dev/v1alpha1
kind: ReviewPolicy
metadata: {name: no-related-code}
spec:
  scope: {repos: ["octo-org/shop-plain"]}
  relatedContext: {enabled: false}
"""


def _open(argo: ArgoSystem, repo: str, number: int) -> None:
    fake = argo.fake_github
    fake.add_pull_request(
        OWNER, repo, number, HEAD, BASE, [("shop/cart.py", CART_PATCH, CART)],
        installation_id=argo.installation_id, title="Add a checkout total",
        base_contents={"shop/pricing.py": PRICING, "shop/__init__.py": ""},
    )  # fmt: skip
    fake.set_tree(
        OWNER, repo, HEAD, {"shop/pricing.py": PRICING, "shop/__init__.py": "", "README.md": "Shop\n"}
    )
    payload = pull_request_payload(
        "opened", number=number, head=HEAD, base=BASE, installation_id=argo.installation_id, repo=repo
    )
    assert argo.send("pull_request", payload).status_code == 202


def test_bug_visible_only_with_unchanged_code_is_commented(system: ArgoSystem, tmp_path: Path) -> None:
    """A call passing a fraction to an unchanged function taking a percentage gets its comment, because the
    function's definition is in the prompt; with related code turned off the same model finds nothing."""
    responder = EvidenceResponder(
        path="shop/cart.py", line=6, quote=CALL, evidence="def apply_discount(price, percent):"
    )
    system.fake_llm.responder = responder
    policy_file = tmp_path / "policies.yaml"
    policy_file.write_text(POLICIES)
    system.stop("reviewer")
    system.start_reviewer(ARGOAI_POLICY_FILE=str(policy_file))
    _open(system, "shop", 11)
    _open(system, "shop-plain", 12)
    wait_until(lambda: len(system.fake_github.reviews_posted(OWNER, "shop", 11)) == 1, 30, "the review")
    # The control finds nothing: no review is posted, only its summary comment.
    wait_until(lambda: bool(_summary(system, "shop-plain", 12)), 30, "the control")
    [review] = system.fake_github.reviews_posted(OWNER, "shop", 11)
    assert [(c["path"], c["line"]) for c in review.comments] == [("shop/cart.py", 6)]
    wait_until(lambda: bool(_summary(system, "shop", 11)), 30, "the summary")
    assert "Related unchanged code given to the model: 1 snippet from 1 file." in _summary(system, "shop", 11)
    assert system.fake_github.reviews_posted(OWNER, "shop-plain", 12) == []
    assert "Related unchanged code" not in _summary(system, "shop-plain", 12)
    assert sorted(responder.seen) == [False, True]
    # The head was fetched as one archive per pull request (no per-file reads of the repository).
    assert len(system.fake_github.requests_to("/tarball/")) == 2
    assert system.fake_github.requests_to("/contents/shop") == []


def _module(index: int, lines: int = 4, marked: bool = False) -> str:
    body = [f"def helper_{index}(value):\n", f"    total = value + {index}\n"]
    body += [f"    total += {k}\n" for k in range(lines - 3)]
    if marked:
        body.append("    return total - 1  # FIXME-BUG off by one\n")
    else:
        body.append("    return total\n")
    return "".join(body)


def _added(path: str, text: str) -> FakeFile:
    patch = f"@@ -0,0 +1,{text.count(chr(10))} @@\n" + "".join(f"+{line}" for line in text.splitlines(True))
    return FakeFile(path=path, patch=patch, content=text)


def _large(path: str) -> tuple[FakeFile, str]:
    """A 5,000-line module whose change adds 3,100 lines (too many for GitHub to send a patch)."""
    base = [f"KEEP_{n} = {n}\n" for n in range(1900)]
    added = [f"ADDED_{n} = {n} * 2\n" for n in range(3100)]
    head = base[:950] + added + base[950:]
    patch = "@@ -950,0 +951,3100 @@\n" + "".join(f"+{line}" for line in added)
    return FakeFile(path=path, patch=patch, content="".join(head), status="modified"), "".join(base)


def test_321_file_pull_request_misses_nothing(system: ArgoSystem) -> None:
    """321 files, three of them too large for GitHub to send a patch: every file is reviewed (the three are
    diffed from their two versions), the bug in the 310th file is commented, and reading the pull request
    took a handful of GitHub requests, not one per file."""
    system.fake_llm.responder = MarkerResponder()
    files: list[FakeFile] = []
    bases: dict[str, str] = {}
    for index in range(321):
        path = f"pkg/m{index:03d}.py"
        if index in (100, 200, 300):
            large, base = _large(path)
            files.append(large)
            bases[path] = base
        else:
            files.append(_added(path, _module(index, marked=index == 309)))
    fake = system.fake_github
    fake.add_pull_request(
        OWNER, "big", 21, HEAD, BASE, files, installation_id=system.installation_id,
        title="A large change", base_contents=bases,
    )  # fmt: skip
    listed = {entry.path for entry in files if entry.listed_patch(fake.max_patch_lines) is None}
    assert listed == {"pkg/m100.py", "pkg/m200.py", "pkg/m300.py"}
    payload = pull_request_payload(
        "opened", number=21, head=HEAD, base=BASE, installation_id=system.installation_id, repo="big"
    )
    requests_before = len(fake.requests)
    system.send("pull_request", payload)
    wait_until(lambda: len(fake.reviews_posted(OWNER, "big", 21)) == 1, 120, "the review of 321 files")
    wait_until(lambda: "### Last review" in _summary(system, "big", 21), 30, "the summary")
    [review] = fake.reviews_posted(OWNER, "big", 21)
    lines = 3 * 3100 + 318 * 4
    assert [(c["path"], c["line"]) for c in review.comments] == [("pkg/m309.py", 4)]
    summary = _summary(system, "big", 21)
    assert f"Reviewed 321 files; {lines:,} of {lines:,} changed lines were sent to the model." in summary
    assert "Nothing was skipped." in summary
    assert "too large" not in summary
    github_calls = [r for r in fake.requests[requests_before:] if not r.path.startswith("/app/")]
    # pull (twice: before and just before posting), reviews, 4 pages of files, the tarball and its archive
    # link, the repository settings file, 3 base versions, the review; the conversation: its comments (read
    # once), the diff threads, the check run (found, created, completed), the summary comment: no per-file
    # reads of the head.
    assert len(github_calls) <= 22, [r.path for r in github_calls]
    assert len(fake.requests_to("/contents/pkg/")) == 3


AGENT_POLICY = """\
apiVersion: argoai.dev/v1alpha1
kind: ReviewPolicy
metadata: {name: agent}
spec:
  agent: {enabled: true, maxRounds: 4, maxToolCalls: 10}
"""


def _agent_responder() -> AgentResponder:
    return AgentResponder(
        path="shop/cart.py",
        line=6,
        quote=CALL,
        evidence="def apply_discount(price, percent):",
        calls=[("find_definitions", {"name": "apply_discount"})],
    )


def test_agent_mode_finds_the_bug_through_its_tools(system: ArgoSystem, tmp_path: Path) -> None:
    """In agent mode the prompt carries no related code; the model looks up the unchanged definition with a
    tool, and its finding (made only from what the tool showed) is commented on the right line."""
    responder = _agent_responder()
    system.fake_llm.responder = responder
    policy_file = tmp_path / "policies.yaml"
    policy_file.write_text(AGENT_POLICY)
    system.stop("reviewer")
    system.start_reviewer(ARGOAI_POLICY_FILE=str(policy_file))
    _open(system, "shop", 13)
    wait_until(lambda: len(system.fake_github.reviews_posted(OWNER, "shop", 13)) == 1, 30, "the review")
    [review] = system.fake_github.reviews_posted(OWNER, "shop", 13)
    assert [(c["path"], c["line"]) for c in review.comments] == [("shop/cart.py", 6)]
    assert responder.seen == ["tools"]
    first, second = system.fake_llm.requests
    assert "def apply_discount" not in first.text  # nothing but the tool showed it
    assert "# Related code" not in first.prompt
    assert "find_definitions" in first.tools
    assert "shop/pricing.py:1 (function)" in second.tool_results[0]
    wait_until(lambda: "Agent mode" in _summary(system, "shop", 13), 30, "the summary")
    assert "Agent mode: the model made 1 tool call(s) in 1 round(s)." in _summary(system, "shop", 13)


def test_a_server_without_tools_falls_back_to_related_code_visibly(
    system: ArgoSystem, tmp_path: Path
) -> None:
    """Against a server that refuses tool calling, agent mode asks it once, then uses the related-code
    prompt; the bug is still found, and the summary and the log say why."""
    responder = _agent_responder()
    system.fake_llm.responder = responder
    system.fake_llm.personality = PERSONALITIES["vllm-no-tools"]
    policy_file = tmp_path / "policies.yaml"
    policy_file.write_text(AGENT_POLICY)
    system.stop("reviewer")
    system.start_reviewer(ARGOAI_POLICY_FILE=str(policy_file))
    _open(system, "shop", 14)
    wait_until(lambda: len(system.fake_github.reviews_posted(OWNER, "shop", 14)) == 1, 30, "the review")
    _open(system, "shop", 15)
    wait_until(lambda: len(system.fake_github.reviews_posted(OWNER, "shop", 15)) == 1, 30, "the second")
    [review] = system.fake_github.reviews_posted(OWNER, "shop", 14)
    assert [(c["path"], c["line"]) for c in review.comments] == [("shop/cart.py", 6)]
    assert responder.seen == ["prompt", "prompt"]
    # One refused request for the server, then related-code prompts only (also for the next review).
    assert [bool(r.tools) for r in system.fake_llm.requests] == [True, False, False]
    wait_until(lambda: "### Last review" in _summary(system, "shop", 15), 30, "the summary")
    for number in (14, 15):
        assert "Agent mode is on, but the LLM server has no tool calling" in _summary(system, "shop", number)
    assert "llm_tools_unsupported" in system.logs()
