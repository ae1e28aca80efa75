"""The pipeline's repository sources, in process (production GitHub adapter, fake GitHub, real Redis, built-in
checks only): the snapshot and its fallback, base versions for rebuilt diffs."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from argoai_core.models.job import RepoRef, ReviewJob
from argoai_core.policy_set import PolicySet, StaticPolicyProvider
from argoai_core.settings import GitHubSettings, RedisSettings
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.adapters.github_retry import GitHubPolicy
from argoai_reviewer.adapters.redis_state import (
    RedisConnection,
    RedisReviewHistory,
    RedisReviewLock,
    RedisReviewState,
    RedisTokenBudget,
)
from argoai_reviewer.analysis.review import AnalysisOptions
from argoai_reviewer.conversation.pipeline import PipelineOptions, ReviewPipeline
from argoai_reviewer.conversation.sources import MAX_SINGLE_BASE_READS, SourceOptions
from argoai_reviewer.outcome import OutcomeKind
from argoai_reviewer.workspace.store import SnapshotLimits, SnapshotStore
from support.fake_github import FakeFile, FakeGitHub

OWNER, REPO = "octo-org", "src"
HEAD, BASE = "a" * 40, "b" * 40
INSTALLATION = 77
FAST = GitHubPolicy(backoff_seconds=0.01, write_spacing_seconds=0.05, write_wait_seconds=5.0)
# A merge conflict: a built-in finding (on its first line), so the rebuilt diff must be commented on.
CONFLICT = "<<<<<<< HEAD\nrate = 1\n=======\nrate = 2\n>>>>>>> other\n"

Build = Callable[[SnapshotLimits], ReviewPipeline]


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    """A fake GitHub."""
    with FakeGitHub(max_patch_lines=5).serving() as server:
        yield server


@pytest.fixture
async def build(fake: FakeGitHub, redis_settings: RedisSettings, tmp_path: Path) -> AsyncIterator[Build]:
    """Pipelines with a snapshot store of the given limits."""
    app = fake.install_app(installation_id=INSTALLATION)
    settings = GitHubSettings(api_url=fake.url, app_id=app.app_id, private_key=SecretStr(app.key.pkcs1))
    github = GitHubAppAdapter.from_settings(settings, redis_settings, policy=FAST)
    redis = RedisConnection.from_settings(redis_settings)

    def make(limits: SnapshotLimits) -> ReviewPipeline:
        return ReviewPipeline(
            github=github, policies=StaticPolicyProvider(PolicySet()), model=None,
            lock=RedisReviewLock(redis), state=RedisReviewState(redis, ttl_seconds=600),
            history=RedisReviewHistory(redis, max_per_repo=10), budget=RedisTokenBudget(redis),
            options=PipelineOptions(
                analysis=AnalysisOptions(), sources=SourceOptions(store=SnapshotStore(tmp_path / "s", limits))
            ),
        )  # fmt: skip

    yield make
    await github.aclose()
    await redis.aclose()


def _job(fake: FakeGitHub) -> ReviewJob:
    return ReviewJob(
        delivery_id="d", installation_id=INSTALLATION, repo=RepoRef(host=fake.url.split("//")[1], owner=OWNER,
        name=REPO), number=1, action="opened", head_sha=HEAD, base_sha=BASE, base_ref="main",
    )  # fmt: skip


async def no_beat() -> None:
    """No queue here."""


def _grown(index: int) -> tuple[FakeFile, str]:
    """A file whose change (8 added lines, over the fake's patch limit of 5) GitHub lists without a patch."""
    base = "".join(f"line_{index}_{n} = {n}\n" for n in range(4))
    added = "".join(f"new_{index}_{n} = {n}\n" for n in range(7)) + (
        f"{CONFLICT}\n" if index == 0 else "x = 0\n"
    )
    patch = "@@ -4,0 +5,8 @@\n" + "".join(f"+{line}" for line in added.splitlines(keepends=True))
    return FakeFile(f"f{index:02d}.py", patch, base + added, status="modified"), base


async def test_patchless_files_are_rebuilt_and_commented(fake: FakeGitHub, build: Build) -> None:
    """Files listed without a patch are diffed from their two versions (a few single base reads) and the
    built-in finding on a rebuilt line is posted inline; nothing is skipped."""
    files, bases = zip(*(_grown(i) for i in range(3)), strict=True)
    fake.add_pull_request(
        OWNER, REPO, 1, HEAD, BASE, list(files), installation_id=INSTALLATION,
        base_contents={f.path: b for f, b in zip(files, bases, strict=True)},
    )  # fmt: skip
    outcome = await build(SnapshotLimits()).run(_job(fake), no_beat)
    assert outcome.kind is OutcomeKind.POSTED
    [review] = fake.reviews_posted(OWNER, REPO, 1)
    assert [(c["path"], c["line"]) for c in review.comments] == [("f00.py", 12)]
    assert "Nothing was skipped." in review.body
    assert len(fake.requests_to("/contents/f")) == 3
    assert len(fake.requests_to("/tarball/")) == 1


async def test_many_patchless_files_read_their_base_from_one_snapshot(fake: FakeGitHub, build: Build) -> None:
    """More base versions than a few are read from a snapshot of the base commit, not one by one."""
    count = MAX_SINGLE_BASE_READS + 4
    files, bases = zip(*(_grown(i) for i in range(count)), strict=True)
    fake.add_pull_request(
        OWNER, REPO, 1, HEAD, BASE, list(files), installation_id=INSTALLATION,
        base_contents={f.path: b for f, b in zip(files, bases, strict=True)},
    )  # fmt: skip
    await build(SnapshotLimits()).run(_job(fake), no_beat)
    [review] = fake.reviews_posted(OWNER, REPO, 1)
    assert [(c["path"], c["line"]) for c in review.comments] == [("f00.py", 12)]
    assert fake.requests_to("/contents/f") == []
    assert sorted(r.path.rsplit("/", 1)[1] for r in fake.requests_to("/tarball/")) == sorted([BASE, HEAD])


async def test_a_snapshot_over_its_cap_falls_back_to_single_reads_and_says_so(
    fake: FakeGitHub, build: Build
) -> None:
    """An archive over the cap: the review still runs (single-file reads) and its summary names the cap."""
    text = "x = 1\n" + CONFLICT
    patch = "@@ -0,0 +1,6 @@\n" + "".join(f"+{line}" for line in text.splitlines(keepends=True))
    fake.add_pull_request(
        OWNER, REPO, 1, HEAD, BASE, [("app.py", patch, text)], installation_id=INSTALLATION
    )  # fmt: skip
    # Random text does not compress: the archive is far over the 1 KiB cap.
    fake.set_tree(OWNER, REPO, HEAD, {f"data/{i}.txt": secrets.token_hex(2000) for i in range(5)})
    outcome = await build(SnapshotLimits(max_archive_bytes=1024)).run(_job(fake), no_beat)
    assert outcome.kind is OutcomeKind.POSTED
    [review] = fake.reviews_posted(OWNER, REPO, 1)
    assert [(c["path"], c["line"]) for c in review.comments] == [("app.py", 2)]
    assert "The repository snapshot was not used (archive of" in review.body
    assert len(fake.requests_to("/contents/app.py")) == 1
