"""The repository archive through the GitHub adapter and the fake GitHub: one request and its redirect, the
installation token kept away from the archive host, caps, Enterprise Server; large patches left out."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from argoai_core.errors import PermanentError
from argoai_core.models.job import RepoRef
from argoai_reviewer.adapters.github import GitHubAppAdapter
from argoai_reviewer.workspace.archive import OverLimitError
from reviewer.github.conftest import BASE, HEAD, OWNER, REPO, AdapterFactory
from support.fake_github import AppCredentials, FakeFile, FakeGitHub

TREE = {"src/app.py": "x = 1\n", "lib/util.py": "def f():\n    return 1\n"}


def _setup(fake: FakeGitHub, app: AppCredentials) -> None:
    fake.add_pull_request(
        OWNER, REPO, 7, HEAD, BASE, [("src/app.py", "@@ -0,0 +1 @@\n+x = 1", "x = 1\n")],
        installation_id=app.installation_id,
    )  # fmt: skip
    fake.set_tree(OWNER, REPO, HEAD, TREE)


def _members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: (tar.extractfile(m) or io.BytesIO()).read() for m in tar.getmembers() if m.isfile()}


@pytest.mark.parametrize("layout", ["github.com", "enterprise"])
async def test_archive_is_one_request_and_the_token_stays_with_the_api(
    fake: FakeGitHub, app: AppCredentials, make_adapter: AdapterFactory, tmp_path: Path, layout: str
) -> None:
    """GET …/tarball/{sha} → 302 → the archive; on github.com the archive host (another origin) gets no
    Authorization header; the archive holds the tree under GitHub's top directory."""
    _setup(fake, app)
    adapter: GitHubAppAdapter = make_adapter(url=fake.url if layout == "github.com" else fake.ghes_url)
    repo = RepoRef(host=adapter.host, owner=OWNER, name=REPO)
    target = tmp_path / "a.tar.gz"
    await adapter.installation(app.installation_id).download_archive(repo, HEAD, target, 10_000_000)
    members = _members(target)
    assert {name.split("/", 1)[1]: data.decode() for name, data in members.items()} == TREE
    [api] = fake.requests_to("/tarball/")
    [archive] = fake.requests_to("/_codeload/")
    assert api.auth == f"token:{app.installation_id}"
    assert archive.auth == ("none" if layout == "github.com" else "sent:token")
    assert archive.status == 200


async def test_archive_over_the_cap_stops_the_download(
    fake: FakeGitHub, app: AppCredentials, make_adapter: AdapterFactory, tmp_path: Path
) -> None:
    """An archive larger than max_bytes raises OverLimitError."""
    _setup(fake, app)
    fake.set_tree(OWNER, REPO, HEAD, {f"data/f{i}.txt": f"{i}" * 2000 + "\n" for i in range(50)})
    adapter: GitHubAppAdapter = make_adapter()
    repo = RepoRef(host=adapter.host, owner=OWNER, name=REPO)
    with pytest.raises(OverLimitError, match="over 500"):
        await adapter.installation(app.installation_id).download_archive(repo, HEAD, tmp_path / "a", 500)


async def test_archive_of_an_unknown_commit_is_permanent(
    fake: FakeGitHub, app: AppCredentials, make_adapter: AdapterFactory, tmp_path: Path
) -> None:
    """A commit GitHub does not have answers 404: a PermanentError."""
    _setup(fake, app)
    adapter: GitHubAppAdapter = make_adapter()
    repo = RepoRef(host=adapter.host, owner=OWNER, name=REPO)
    with pytest.raises(PermanentError):
        await adapter.installation(app.installation_id).download_archive(
            repo, "c" * 40, tmp_path / "a", 10**6
        )


async def test_files_too_large_for_a_patch_are_listed_without_one(
    fake: FakeGitHub, app: AppCredentials, make_adapter: AdapterFactory
) -> None:
    """A file with more changed lines than the fake's limit is listed with its counts but no patch."""
    big = "".join(f"+line {n}\n" for n in range(3001))
    fake.add_pull_request(
        OWNER, REPO, 8, HEAD, BASE,
        [FakeFile("big.py", "@@ -0,0 +1,3001 @@\n" + big, "x\n"), ("small.py", "@@ -0,0 +1 @@\n+y", "y\n")],
        installation_id=app.installation_id,
    )  # fmt: skip
    adapter: GitHubAppAdapter = make_adapter()
    repo = RepoRef(host=adapter.host, owner=OWNER, name=REPO)
    files = await adapter.installation(app.installation_id).files(repo, 8)
    assert [(f.path, f.additions, f.patch is None) for f in files] == [
        ("big.py", 3001, True),
        ("small.py", 1, False),
    ]
