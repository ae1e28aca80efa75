"""What the fake GitHub knows (apps, installations, repositories, pull requests) and what it was sent.

Everything here is plain, synchronous and guarded by one lock: the HTTP layer (``api.py``) runs on the
server's event loop thread while tests set up and inspect state from theirs.
"""

from __future__ import annotations

import itertools
import secrets
import string
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from typing import Any

from support.fake_github.hunks import count_changes

Json = dict[str, Any]

MAX_PR_FILES = 3000  # GitHub lists at most 3,000 files of a pull request
MAX_COMPARE_FILES = 300  # and at most 300 files of a comparison
MAX_CONTENT_BYTES = 1024 * 1024  # the contents API's default media type stops at 1 MB
# GitHub lists a file without its ``patch`` when its diff is too large; it does not document the threshold,
# this fake omits it past this many changed lines (the file's changes and comment lines stay as they are).
MAX_PATCH_LINES = 3000
CODELOAD_TOKEN_SECONDS = 300.0  # how long an archive link stays valid


@dataclass
class FakeFile:
    """One changed file: its patch (None when GitHub omits it: binary or huge) and its content at the head."""

    path: str
    patch: str | None
    content: str | bytes | None = None
    status: str = ""  # inferred from the patch when empty
    previous_path: str | None = None

    def __post_init__(self) -> None:
        if not self.status:
            if self.previous_path is not None:
                self.status = "renamed"
            elif self.patch is not None and self.patch.startswith("@@ -0,0 "):
                self.status = "added"
            elif self.patch is not None and self.content is None and "\n+" not in "\n" + self.patch:
                self.status = "removed"
            else:
                self.status = "modified"

    @property
    def changes(self) -> tuple[int, int]:
        """(additions, deletions)."""
        return count_changes(self.patch)

    def listed_patch(self, max_lines: int) -> str | None:
        """The ``patch`` GitHub lists: none for binary files, and none when the diff is too large."""
        additions, deletions = self.changes
        return self.patch if additions + deletions <= max_lines else None


FileSpec = FakeFile | tuple[str, str | None, str | bytes | None]


def as_files(files: list[FileSpec]) -> list[FakeFile]:
    """Accept ``FakeFile`` objects or ``(path, patch, content_at_head)`` tuples."""
    return [f if isinstance(f, FakeFile) else FakeFile(path=f[0], patch=f[1], content=f[2]) for f in files]


@dataclass
class Comparison:
    """``base...head`` of one repository."""

    status: str
    files: list[FakeFile]
    ahead_by: int = 1
    behind_by: int = 0


@dataclass
class PostedReview:
    """A review on a pull request: posted through the API, or added by a test as pre-existing."""

    id: int
    author: str
    author_type: str
    commit_id: str | None
    body: str
    event: str | None
    state: str
    comments: list[Json]


@dataclass
class Reaction:
    """One reaction on a comment (GitHub keeps one per user and content)."""

    content: str
    user: str
    user_type: str = "User"


REACTIONS = ("+1", "-1", "laugh", "confused", "heart", "hooray", "rocket", "eyes")


@dataclass
class PostedComment:
    """A conversation (issue) comment."""

    id: int
    author: str
    author_type: str
    body: str
    association: str = "NONE"
    edits: int = 0  # times its body was replaced (PATCH)
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class ReviewComment:
    """A diff comment: a thread's first comment (``in_reply_to`` None) or a reply in that thread."""

    id: int
    review_id: int | None
    author: str
    author_type: str
    path: str
    line: int | None
    start_line: int | None
    side: str
    body: str
    commit_id: str
    in_reply_to: int | None = None
    association: str = "NONE"
    reactions: list[Reaction] = field(default_factory=list)


@dataclass
class Thread:
    """A diff thread (GraphQL ``PullRequestReviewThread``)."""

    node_id: str
    first_comment_id: int
    resolved: bool = False
    resolved_by: str | None = None


@dataclass
class CheckRunState:
    """A check run: its current state, its annotations, and every status it went through."""

    id: int
    name: str
    head_sha: str
    app_id: int
    status: str
    conclusion: str | None
    external_id: str | None
    output: Json
    annotations: list[Json] = field(default_factory=list)
    history: list[tuple[str, str | None]] = field(default_factory=list)  # (status, conclusion) per write
    requests: int = 0  # create and update requests
    started_at: float = 0.0
    completed_at: float | None = None


@dataclass
class Pull:
    """One pull request."""

    owner: str
    repo: str
    number: int
    title: str
    body: str | None
    author: str
    author_type: str
    state: str
    draft: bool
    head_sha: str
    head_ref: str
    base_sha: str
    base_ref: str
    files: list[FakeFile]
    reviews: list[PostedReview] = field(default_factory=list)
    comments: list[PostedComment] = field(default_factory=list)
    review_comments: list[ReviewComment] = field(default_factory=list)
    threads: dict[int, Thread] = field(default_factory=dict)  # by first comment id


@dataclass
class Repo:
    """One repository, its installation, file contents by (commit or branch, path), and comparisons."""

    owner: str
    name: str
    installation_id: int
    default_branch: str = "main"
    contents: dict[tuple[str, str], bytes] = field(default_factory=dict)
    branches: dict[str, str] = field(default_factory=dict)
    comparisons: dict[tuple[str, str], Comparison] = field(default_factory=dict)
    pulls: dict[int, Pull] = field(default_factory=dict)
    check_runs: dict[int, CheckRunState] = field(default_factory=dict)
    # Role of each collaborator (admin, maintain, write, triage, read); everyone else reads a public repo.
    permissions: dict[str, str] = field(default_factory=dict)
    archives: dict[str, bytes] = field(default_factory=dict)  # commit → archive served instead of its tree

    def resolve(self, ref: str | None) -> str:
        """A branch name becomes its commit; a SHA stays itself."""
        ref = ref or self.default_branch
        return self.branches.get(ref, ref)


@dataclass
class App:
    """A GitHub App: id, slug and the public key its JWTs are checked with."""

    app_id: int
    slug: str
    public_keys: list[str]


@dataclass
class Installation:
    """An installation of an App on an account."""

    installation_id: int
    app_id: int
    account: str


@dataclass
class Token:
    """An installation access token."""

    value: str
    installation_id: int
    expires_at: float
    revoked: bool = False


@dataclass
class Delivery:
    """One webhook delivery attempt, as ``GET /app/hook/deliveries`` lists it."""

    id: int
    guid: str
    delivered_at: float
    redelivery: bool
    status: str
    status_code: int
    event: str
    action: str | None
    installation_id: int | None
    repository_id: int | None
    app_id: int


@dataclass
class Fault:
    """An injected failure for the next ``count`` matching requests."""

    status: int
    count: int
    path_contains: str | None = None
    method: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: Json = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (a slow GitHub); status 0 = answer normally

    def matches(self, method: str, path: str) -> bool:
        """Whether this fault applies to a request."""
        return (self.path_contains is None or self.path_contains in path) and (
            self.method is None or self.method == method
        )


@dataclass
class LoggedRequest:
    """One request the fake received, for tests to inspect."""

    method: str
    path: str  # without the /api/v3 prefix
    url_path: str  # as requested (with /api/v3 when the client used the Enterprise Server layout)
    query: dict[str, str]
    auth: str  # "jwt:<app id>", "token:<installation id>", "none", or "bad"
    body: Any
    at: float
    status: int = 0
    accept: str = ""


@dataclass
class RateWindow:
    """Primary rate limit of one principal (installation or app): an hourly window."""

    limit: int
    reset_at: float
    used: int = 0


_ALNUM = string.ascii_letters + string.digits


class FakeGitHubState:
    """The fake's data and the recordings tests inspect. Public methods are safe to call from any thread."""

    def __init__(
        self,
        *,
        token_lifetime: float = 3600.0,
        rate_limit: int = 5000,
        content_limit_per_minute: int | None = None,
        write_latency: float = 0.0,
        max_patch_lines: int = MAX_PATCH_LINES,
    ) -> None:
        self.lock = threading.RLock()
        self.max_patch_lines = max_patch_lines
        # Archive links (``/_codeload/...?token=``) the tarball endpoint hands out: token → (repo, commit).
        self.codeload_tokens: dict[str, tuple[str, str, str, float]] = {}
        # Base URL of the archive host (another origin than the API, as codeload.github.com is).
        self.codeload_url = ""
        self.token_lifetime = token_lifetime
        self.rate_limit = rate_limit
        self.content_limit_per_minute = content_limit_per_minute
        self.write_latency = write_latency
        self.apps: dict[int, App] = {}
        self.installations: dict[int, Installation] = {}
        self.repos: dict[tuple[str, str], Repo] = {}
        self.tokens: dict[str, Token] = {}
        self.deliveries: list[Delivery] = []
        self.redelivery_requests: list[int] = []
        self.requests: list[LoggedRequest] = []
        self.faults: list[Fault] = []
        self.rate_windows: dict[str, RateWindow] = {}
        self.write_times: dict[int, deque[float]] = defaultdict(deque)
        self.writes: list[tuple[int, float, float]] = []  # (installation, start, end) of each write
        self.writes_in_flight: dict[int, int] = defaultdict(int)
        self.max_writes_in_flight: dict[int, int] = defaultdict(int)
        self._ids = itertools.count(1_000_001)

    def next_id(self) -> int:
        """A fresh object id."""
        return next(self._ids)

    # ----- set-up ---------------------------------------------------------------------------------

    def add_app(self, app_id: int, public_key: str, *, slug: str = "argoai") -> App:
        """Register an App and the public key its JWTs must be signed with."""
        with self.lock:
            app = self.apps.setdefault(app_id, App(app_id=app_id, slug=slug, public_keys=[]))
            app.public_keys.append(public_key)
            return app

    def add_installation(self, installation_id: int, app_id: int, account: str = "octo-org") -> Installation:
        """Install App ``app_id`` on ``account``."""
        with self.lock:
            inst = Installation(installation_id=installation_id, app_id=app_id, account=account)
            self.installations[installation_id] = inst
            return inst

    def add_repo(self, owner: str, name: str, *, installation_id: int, default_branch: str = "main") -> Repo:
        """A repository reachable by ``installation_id`` (created if new)."""
        with self.lock:
            repo = self.repos.get((owner, name))
            if repo is None:
                repo = Repo(
                    owner=owner, name=name, installation_id=installation_id, default_branch=default_branch
                )
                self.repos[(owner, name)] = repo
            repo.installation_id = installation_id
            return repo

    def add_pull_request(
        self,
        owner: str,
        repo: str,
        number: int,
        head_sha: str,
        base_sha: str,
        files: list[FileSpec],
        *,
        installation_id: int,
        title: str = "A change",
        body: str | None = "",
        author: str = "octocat",
        author_type: str = "User",
        draft: bool = False,
        state: str = "open",
        base_ref: str = "main",
        head_ref: str = "feature",
        base_contents: dict[str, str | bytes] | None = None,
    ) -> Pull:
        """A pull request with its changed files; each file's content is stored at ``head_sha``."""
        with self.lock:
            repo_obj = self.add_repo(owner, repo, installation_id=installation_id, default_branch=base_ref)
            pull = Pull(
                owner=owner,
                repo=repo,
                number=number,
                title=title,
                body=body,
                author=author,
                author_type=author_type,
                state=state,
                draft=draft,
                head_sha=head_sha,
                head_ref=head_ref,
                base_sha=base_sha,
                base_ref=base_ref,
                files=as_files(files),
            )
            repo_obj.pulls[number] = pull
            repo_obj.branches[base_ref] = base_sha
            repo_obj.branches[head_ref] = head_sha
            for path, content in (base_contents or {}).items():
                self.set_content(owner, repo, base_sha, path, content)
            self._store_head_contents(repo_obj, pull.files, head_sha, previous=None)
            repo_obj.comparisons[(base_sha, head_sha)] = Comparison(status="ahead", files=pull.files)
            return pull

    def push(
        self,
        owner: str,
        repo: str,
        number: int,
        head_sha: str,
        files: list[FileSpec] | None = None,
        *,
        compare_files: list[FileSpec] | None = None,
        force: bool = False,
    ) -> Pull:
        """A new head on a pull request: its files (if given) and the old...new comparison.

        ``compare_files`` are the files changed between the old and the new head (default: the new files);
        ``force`` makes the comparison ``diverged``, as a force-push that rewrote history does.
        """
        with self.lock:
            repo_obj = self.repos[(owner, repo)]
            pull = repo_obj.pulls[number]
            old = pull.head_sha
            if files is not None:
                pull.files = as_files(files)
            pull.head_sha = head_sha
            repo_obj.branches[pull.head_ref] = head_sha
            self._store_head_contents(repo_obj, pull.files, head_sha, previous=old)
            changed = as_files(compare_files) if compare_files is not None else pull.files
            repo_obj.comparisons[(old, head_sha)] = Comparison(
                status="diverged" if force else "ahead",
                files=changed,
                ahead_by=1,
                behind_by=1 if force else 0,
            )
            repo_obj.comparisons[(pull.base_sha, head_sha)] = Comparison(status="ahead", files=pull.files)
            return pull

    def _store_head_contents(
        self, repo: Repo, files: list[FakeFile], head: str, previous: str | None
    ) -> None:
        if previous is not None:
            # Files the push did not touch keep their content at the new head.
            for (ref, path), data in list(repo.contents.items()):
                if ref == previous:
                    repo.contents.setdefault((head, path), data)
        for f in files:
            if f.content is None:
                repo.contents.pop((head, f.path), None)
            else:
                repo.contents[(head, f.path)] = (
                    f.content.encode() if isinstance(f.content, str) else f.content
                )

    def set_content(self, owner: str, repo: str, ref: str, path: str, content: str | bytes | None) -> None:
        """A file's content at a commit (None deletes it)."""
        with self.lock:
            repo_obj = self.repos[(owner, repo)]
            if content is None:
                repo_obj.contents.pop((ref, path), None)
            else:
                repo_obj.contents[(ref, path)] = content.encode() if isinstance(content, str) else content

    def set_tree(self, owner: str, repo: str, ref: str, files: dict[str, str | bytes]) -> None:
        """Many files' contents at a commit at once (the unchanged rest of a repository)."""
        with self.lock:
            repo_obj = self.repos[(owner, repo)]
            for path, content in files.items():
                repo_obj.contents[(ref, path)] = content.encode() if isinstance(content, str) else content

    def set_archive(self, owner: str, repo: str, ref: str, data: bytes) -> None:
        """Serve ``data`` (any bytes: a crafted tar, a bomb) as the archive of commit ``ref``."""
        with self.lock:
            self.repos[(owner, repo)].archives[ref] = data

    def tree_at(self, owner: str, repo: str, ref: str) -> dict[str, bytes]:
        """Every file of the repository at commit ``ref``, by path."""
        with self.lock:
            repo_obj = self.repos[(owner, repo)]
            sha = repo_obj.resolve(ref)
            return {path: data for (at, path), data in repo_obj.contents.items() if at == sha}

    def codeload_link(self, owner: str, repo: str, sha: str) -> str:
        """A one-off token for the archive of ``sha`` (what the tarball endpoint's redirect carries)."""
        with self.lock:
            token = "".join(secrets.choice(_ALNUM) for _ in range(24))
            self.codeload_tokens[token] = (owner, repo, sha, time.time() + CODELOAD_TOKEN_SECONDS)
            return token

    def redeem_codeload(self, token: str) -> tuple[str, str, str] | None:
        """The (owner, repo, commit) of a valid archive token, spent by this call."""
        with self.lock:
            found = self.codeload_tokens.pop(token, None)
            if found is None or found[3] < time.time():
                return None
            return found[0], found[1], found[2]

    def set_comparison(
        self, owner: str, repo: str, base: str, head: str, status: str, files: list[FileSpec]
    ) -> None:
        """What ``compare/{base}...{head}`` answers."""
        with self.lock:
            self.repos[(owner, repo)].comparisons[(base, head)] = Comparison(
                status=status,
                files=as_files(files),
                ahead_by=0 if status in ("behind", "identical") else 1,
                behind_by=1 if status in ("behind", "diverged") else 0,
            )

    def add_review(
        self,
        owner: str,
        repo: str,
        number: int,
        body: str,
        commit_id: str | None,
        *,
        author: str = "someone",
        author_type: str = "User",
        state: str = "COMMENTED",
    ) -> int:
        """A review already on the pull request (from a person, or an earlier run of the bot)."""
        with self.lock:
            review = PostedReview(
                id=self.next_id(),
                author=author,
                author_type=author_type,
                commit_id=commit_id,
                body=body,
                event=None,
                state=state,
                comments=[],
            )
            self.repos[(owner, repo)].pulls[number].reviews.append(review)
            return review.id

    def add_delivery(
        self,
        guid: str,
        event: str,
        *,
        app_id: int,
        action: str | None = None,
        status_code: int = 200,
        delivered_at: float | None = None,
        redelivery: bool = False,
        installation_id: int | None = None,
        repository_id: int | None = None,
    ) -> int:
        """A webhook delivery in the App's delivery log; returns its id."""
        with self.lock:
            delivery = Delivery(
                id=self.next_id(),
                guid=guid,
                delivered_at=time.time() if delivered_at is None else delivered_at,
                redelivery=redelivery,
                status="OK" if 200 <= status_code < 300 else f"Invalid HTTP Response: {status_code}",
                status_code=status_code,
                event=event,
                action=action,
                installation_id=installation_id,
                repository_id=repository_id,
                app_id=app_id,
            )
            self.deliveries.append(delivery)
            return delivery.id

    # ----- the conversation: comments, threads, reactions, permissions, check runs -------------------

    def add_issue_comment(
        self,
        owner: str,
        repo: str,
        number: int,
        body: str,
        *,
        author: str = "octocat",
        author_type: str = "User",
        association: str = "MEMBER",
    ) -> int:
        """A conversation comment someone wrote on the pull request; returns its id."""
        with self.lock:
            comment = PostedComment(
                id=self.next_id(), author=author, author_type=author_type, body=body, association=association
            )
            self.repos[(owner, repo)].pulls[number].comments.append(comment)
            return comment.id

    def add_review_comment(
        self,
        owner: str,
        repo: str,
        number: int,
        path: str,
        line: int,
        body: str,
        *,
        author: str = "octocat",
        author_type: str = "User",
        association: str = "MEMBER",
    ) -> int:
        """A diff comment someone wrote on ``line`` of ``path`` at the head, starting a thread; its id."""
        with self.lock:
            pull = self.repos[(owner, repo)].pulls[number]
            comment = ReviewComment(
                id=self.next_id(), review_id=None, author=author, author_type=author_type, path=path,
                line=line, start_line=None, side="RIGHT", body=body, commit_id=pull.head_sha,
                association=association,
            )  # fmt: skip
            pull.review_comments.append(comment)
            pull.threads[comment.id] = Thread(node_id=f"PRRT_{comment.id}", first_comment_id=comment.id)
            return comment.id

    def add_thread_reply(
        self,
        owner: str,
        repo: str,
        number: int,
        in_reply_to: int,
        body: str,
        *,
        author: str = "octocat",
        author_type: str = "User",
        association: str = "MEMBER",
    ) -> int:
        """A reply someone wrote in the diff thread of comment ``in_reply_to``; returns its id."""
        with self.lock:
            pull = self.repos[(owner, repo)].pulls[number]
            first = next(c for c in pull.review_comments if c.id == in_reply_to)
            root = first.in_reply_to or first.id
            reply = self.new_review_comment(pull, first, body, author, author_type, root)
            reply.association = association
            return reply.id

    def new_review_comment(
        self, pull: Pull, first: ReviewComment, body: str, author: str, author_type: str, root: int
    ) -> ReviewComment:
        """A reply in the thread of ``first`` (stored; the caller holds the lock)."""
        reply = ReviewComment(
            id=self.next_id(),
            review_id=None,
            author=author,
            author_type=author_type,
            path=first.path,
            line=first.line,
            start_line=first.start_line,
            side=first.side,
            body=body,
            commit_id=pull.head_sha,
            in_reply_to=root,
        )
        pull.review_comments.append(reply)
        return reply

    def react(
        self, owner: str, repo: str, comment_id: int, content: str, *, user: str, user_type: str = "User"
    ) -> None:
        """``user`` reacts to a diff or conversation comment (one reaction per user and content)."""
        with self.lock:
            target = self.find_comment(owner, repo, comment_id)
            if target is None:
                raise KeyError(comment_id)
            if not any(r.content == content and r.user == user for r in target.reactions):
                target.reactions.append(Reaction(content=content, user=user, user_type=user_type))

    def find_comment(self, owner: str, repo: str, comment_id: int) -> PostedComment | ReviewComment | None:
        """The conversation or diff comment ``comment_id`` of the repository."""
        with self.lock:
            for pull in self.repos[(owner, repo)].pulls.values():
                for comment in [*pull.comments, *pull.review_comments]:
                    if comment.id == comment_id:
                        return comment
            return None

    def set_permission(self, owner: str, repo: str, user: str, role: str) -> None:
        """``user``'s role on the repository: admin, maintain, write, triage or read."""
        with self.lock:
            self.repos[(owner, repo)].permissions[user] = role

    def review_comments(self, owner: str, repo: str, number: int) -> list[ReviewComment]:
        """Every diff comment of the pull request, oldest first."""
        with self.lock:
            return list(self.repos[(owner, repo)].pulls[number].review_comments)

    def threads(self, owner: str, repo: str, number: int) -> list[Thread]:
        """The pull request's diff threads."""
        with self.lock:
            return list(self.repos[(owner, repo)].pulls[number].threads.values())

    def check_runs(self, owner: str, repo: str, head_sha: str | None = None) -> list[CheckRunState]:
        """Check runs of the repository (on one commit), oldest first."""
        with self.lock:
            runs = self.repos[(owner, repo)].check_runs.values()
            return [run for run in runs if head_sha is None or run.head_sha == head_sha]

    # ----- failures and limits --------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 502,
        path_contains: str | None = None,
        method: str | None = None,
    ) -> None:
        """The next ``count`` matching requests fail with ``status`` (5xx by default)."""
        with self.lock:
            body = {"message": "Server Error"} if status >= 500 else {"message": "Error"}
            self.faults.append(
                Fault(status=status, count=count, path_contains=path_contains, method=method, body=body)
            )

    def rate_limit_next(
        self,
        count: int = 1,
        *,
        status: int = 403,
        retry_after: int | None = 60,
        reset_in: int | None = None,
        secondary: bool = True,
        path_contains: str | None = None,
        method: str | None = None,
    ) -> None:
        """The next ``count`` matching requests are refused as rate limited, as GitHub refuses them.

        ``secondary``: a secondary limit (``retry-after`` when given, the "secondary rate limit" message);
        otherwise a primary limit: ``x-ratelimit-remaining: 0`` with ``x-ratelimit-reset`` in ``reset_in`` s.
        """
        with self.lock:
            headers: dict[str, str] = {}
            if retry_after is not None:
                headers["retry-after"] = str(retry_after)
            if not secondary or reset_in is not None:
                headers["x-ratelimit-remaining"] = "0"
                headers["x-ratelimit-reset"] = str(int(time.time() + (reset_in or 3600)))
            message = (
                "You have exceeded a secondary rate limit. Please wait a few minutes before you try again."
                if secondary
                else "API rate limit exceeded for installation."
            )
            self.faults.append(
                Fault(
                    status=status,
                    count=count,
                    path_contains=path_contains,
                    method=method,
                    headers=headers,
                    body={"message": message, "documentation_url": "https://docs.github.com/rest/rate-limit"},
                )
            )

    def delay_next(
        self, count: int, seconds: float, *, path_contains: str | None = None, method: str | None = None
    ) -> None:
        """The next ``count`` matching requests are answered only after ``seconds`` (a slow GitHub)."""
        with self.lock:
            self.faults.append(
                Fault(status=0, count=count, path_contains=path_contains, method=method, delay=seconds)
            )

    def clear_faults(self) -> None:
        """Forget every injected failure not used yet (an outage made of ``fail_next`` ends)."""
        with self.lock:
            self.faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The injected failure that applies to this request, if any (consumes one use of it)."""
        with self.lock:
            for fault in self.faults:
                if fault.count > 0 and fault.matches(method, path):
                    fault.count -= 1
                    if fault.count == 0:
                        self.faults.remove(fault)
                    return fault
            return None

    def set_rate_limit(self, principal: str, *, remaining: int, reset_in: float = 3600.0) -> None:
        """Primary limit of ``installation:<id>`` or ``app:<id>``: ``remaining`` calls for ``reset_in`` s."""
        with self.lock:
            self.rate_windows[principal] = RateWindow(
                limit=self.rate_limit, reset_at=time.time() + reset_in, used=self.rate_limit - remaining
            )

    def count_call(self, principal: str) -> RateWindow:
        """Count one call against ``principal``'s primary limit (a new window each hour)."""
        with self.lock:
            now = time.time()
            window = self.rate_windows.get(principal)
            if window is None or window.reset_at <= now:
                window = RateWindow(limit=self.rate_limit, reset_at=now + 3600)
                self.rate_windows[principal] = window
            window.used += 1
            return window

    def refund_call(self, principal: str) -> RateWindow:
        """Take back one counted call (a conditional request answered 304 is free on GitHub)."""
        with self.lock:
            window = self.rate_windows[principal]
            window.used = max(0, window.used - 1)
            return window

    def quota_used(self, principal: str) -> int:
        """Calls counted against ``principal``'s primary limit in its current window."""
        with self.lock:
            window = self.rate_windows.get(principal)
            return 0 if window is None or window.reset_at <= time.time() else window.used

    # ----- tokens ---------------------------------------------------------------------------------

    def issue_token(self, installation_id: int) -> Token:
        """A new ``ghs_`` installation token."""
        with self.lock:
            value = "ghs_" + "".join(secrets.choice(_ALNUM) for _ in range(36))
            token = Token(
                value=value, installation_id=installation_id, expires_at=time.time() + self.token_lifetime
            )
            self.tokens[value] = token
            return token

    def expire_tokens(self, installation_id: int | None = None) -> int:
        """Make every token (of one installation) invalid now, as if its hour were up; returns how many."""
        with self.lock:
            count = 0
            for token in self.tokens.values():
                if installation_id is None or token.installation_id == installation_id:
                    token.revoked = True
                    count += 1
            return count

    def token_installation(self, value: str) -> int | None:
        """The installation a valid, unexpired token belongs to."""
        with self.lock:
            token = self.tokens.get(value)
            if token is None or token.revoked or token.expires_at <= time.time():
                return None
            return token.installation_id

    # ----- writes (content-creating requests) -----------------------------------------------------

    def content_limited(self, installation_id: int) -> bool:
        """Whether one more content-creating request now would exceed the per-minute limit."""
        with self.lock:
            if self.content_limit_per_minute is None:
                return False
            times = self.write_times[installation_id]
            now = time.time()
            while times and times[0] <= now - 60:
                times.popleft()
            return len(times) >= self.content_limit_per_minute

    def write_started(self, installation_id: int) -> float:
        """Record the start of a content-creating request."""
        with self.lock:
            now = time.time()
            self.write_times[installation_id].append(now)
            self.writes_in_flight[installation_id] += 1
            self.max_writes_in_flight[installation_id] = max(
                self.max_writes_in_flight[installation_id], self.writes_in_flight[installation_id]
            )
            return now

    def write_finished(self, installation_id: int, started: float) -> None:
        """Record the end of a content-creating request."""
        with self.lock:
            self.writes_in_flight[installation_id] -= 1
            self.writes.append((installation_id, started, time.time()))

    # ----- inspection -----------------------------------------------------------------------------

    def pull(self, owner: str, repo: str, number: int) -> Pull:
        """The pull request (to inspect or change it)."""
        with self.lock:
            return self.repos[(owner, repo)].pulls[number]

    def reviews_posted(self, owner: str, repo: str, number: int) -> list[PostedReview]:
        """Reviews posted through the API (not those added by the test), oldest first."""
        with self.lock:
            return [r for r in self.repos[(owner, repo)].pulls[number].reviews if r.event is not None]

    def comments_posted(self, owner: str, repo: str, number: int) -> list[PostedComment]:
        """Conversation comments posted on the pull request, oldest first."""
        with self.lock:
            return list(self.repos[(owner, repo)].pulls[number].comments)

    def requests_to(self, path_contains: str = "", method: str | None = None) -> list[LoggedRequest]:
        """Logged requests whose path contains ``path_contains`` (and of ``method``)."""
        with self.lock:
            return [
                r for r in self.requests if path_contains in r.path and (method is None or r.method == method)
            ]

    def token_requests(self, installation_id: int | None = None) -> list[LoggedRequest]:
        """Requests for installation tokens (of one installation)."""
        suffix = "/access_tokens"
        marker = (
            f"/app/installations/{installation_id}/" if installation_id is not None else "/app/installations/"
        )
        return [r for r in self.requests_to(suffix, "POST") if r.path.startswith(marker)]
