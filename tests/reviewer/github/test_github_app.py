"""App-level calls made with the App's JWT: installation lookup, webhook delivery log and redelivery."""

from __future__ import annotations

from argoai_reviewer.adapters.github import GitHubAppAdapter
from support.fake_github import AppCredentials, FakeGitHub


async def test_repo_installation(fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter) -> None:
    """The installation covering a repository is looked up with the App JWT."""
    fake.add_repo("octo-org", "demo", installation_id=app.installation_id)
    assert await adapter.repo_installation("octo-org", "demo") == app.installation_id
    [request] = fake.requests_to("/installation")
    assert request.auth == f"jwt:{app.app_id}"


async def test_hook_deliveries_pages_and_redelivery(
    fake: FakeGitHub, app: AppCredentials, adapter: GitHubAppAdapter
) -> None:
    """Deliveries are paged by cursor, newest first, and a failed one can be redelivered."""
    ids = [
        fake.add_delivery(f"guid-{i}", "pull_request", app_id=app.app_id, action="opened", status_code=code)
        for i, code in enumerate([200, 502, 200])
    ]
    first, cursor = await adapter.list_hook_deliveries(per_page=2)
    assert [d.id for d in first] == ids[::-1][:2]
    assert cursor is not None
    rest, cursor = await adapter.list_hook_deliveries(per_page=2, cursor=cursor)
    assert [d.id for d in rest] == [ids[0]]
    assert cursor is None
    failed = next(d for d in first if not d.ok)
    assert (failed.guid, failed.status_code, failed.event, failed.action) == (
        "guid-1",
        502,
        "pull_request",
        "opened",
    )
    await adapter.redeliver(failed.id)
    assert fake.redelivery_requests == [failed.id]
