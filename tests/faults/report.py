"""The fault suite's figures: each test fills a :class:`Tally` from what really happened (gateway answers, the
fake GitHub's reviews, the dead-letter stream, canary searches); the session prints the sum."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path

import httpx

from support.fake_github.server import FakeGitHub


@dataclass
class Tally:
    """One test's figures. ``expected`` are the (repo, PR, head) that must get exactly one review."""

    test: str
    webhooks_sent: int = 0
    webhooks_accepted: int = 0
    webhooks_lost: int = 0
    reviews_expected: int = 0
    reviews_posted: int = 0
    reviews_duplicated: int = 0
    reviews_unwanted: int = 0
    jobs_dead_lettered: int = 0
    failure_comments: int = 0
    canaries_planted: int = 0
    canaries_leaked: int = 0
    expected: set[tuple[str, int, str]] = field(default_factory=set)
    forbidden: set[tuple[str, int, str]] = field(default_factory=set)
    # Measured figures worth reading beside the counters (e.g. how soon reviews resumed after an outage).
    measured: dict[str, float] = field(default_factory=dict)

    def sent(self, response: httpx.Response) -> httpx.Response:
        """Count one webhook delivery and whether the gateway accepted it (202)."""
        self.webhooks_sent += 1
        if response.status_code == 202:
            self.webhooks_accepted += 1
        return response

    def expect(self, repo: str, number: int, head: str) -> None:
        """This head of this PR must get exactly one review."""
        self.expected.add((repo, number, head))

    def forbid(self, repo: str, number: int, head: str) -> None:
        """This head of this PR must get no review (superseded, or failing for good)."""
        self.forbidden.add((repo, number, head))

    def observe(self, github: FakeGitHub) -> None:
        """Count the reviews and comments the fake GitHub holds now, against what was expected."""
        posted: Counter[tuple[str, int, str]] = Counter()
        comments = 0
        with github.lock:
            for (owner, name), repo in github.repos.items():
                for number, pull in repo.pulls.items():
                    for review in pull.reviews:
                        if review.event is not None:
                            posted[(f"{owner}/{name}", number, review.commit_id or "")] += 1
                    comments += sum("argoai:failed" in c.body for c in pull.comments)
        self.reviews_expected = len(self.expected)
        self.reviews_posted = sum(posted.values())
        self.reviews_duplicated = sum(n - 1 for n in posted.values() if n > 1)
        self.reviews_unwanted = sum(posted[key] for key in self.forbidden)
        self.webhooks_lost = sum(1 for key in self.expected if posted[key] == 0)
        self.failure_comments = comments

    def figures(self) -> dict[str, int]:
        """The counters only."""
        return {f.name: getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), int)}


@dataclass
class FaultReport:
    """Every tally of the session."""

    tallies: dict[str, Tally] = field(default_factory=dict)
    directory: Path | None = None

    def tally(self, test: str) -> Tally:
        """A new tally for ``test``."""
        self.tallies[test] = Tally(test)
        return self.tallies[test]

    def totals(self) -> dict[str, int]:
        """Each figure summed over the tests."""
        total: Counter[str] = Counter()
        for tally in self.tallies.values():
            total.update(tally.figures())
        return {name: total[name] for name in Tally("").figures()}

    def lines(self) -> list[str]:
        """The report as text: one line per test, then the totals and the targets."""
        short = {
            "webhooks_sent": "sent", "webhooks_accepted": "accepted", "webhooks_lost": "lost",
            "reviews_expected": "rev.exp", "reviews_posted": "posted", "reviews_duplicated": "dup",
            "reviews_unwanted": "unwanted", "jobs_dead_lettered": "dead", "failure_comments": "fail.cmt",
            "canaries_planted": "canaries", "canaries_leaked": "leaked",
        }  # fmt: skip
        width = max(len(name) for name in [*self.tallies, "TOTAL"])
        head = " ".join(f"{label:>8}" for label in short.values())
        out = [f"{'test':<{width}} {head}"]
        for name, tally in self.tallies.items():
            figures = tally.figures()
            out.append(f"{name:<{width}} " + " ".join(f"{figures[key]:>8}" for key in short))
        totals = self.totals()
        out.append(f"{'TOTAL':<{width}} " + " ".join(f"{totals[key]:>8}" for key in short))
        verdict = all(totals[key] == 0 for key in ("webhooks_lost", "reviews_duplicated", "canaries_leaked"))
        out.append(
            f"targets: 0 lost ({totals['webhooks_lost']}), 0 duplicated ({totals['reviews_duplicated']}), "
            f"0 unwanted ({totals['reviews_unwanted']}), 0 leaked ({totals['canaries_leaked']}) -> "
            + ("MET" if verdict and totals["reviews_unwanted"] == 0 else "MISSED")
        )
        for name, tally in self.tallies.items():
            for what, value in tally.measured.items():
                out.append(f"{name}: {what} = {value:g}")
        return out

    def as_json(self) -> dict[str, object]:
        """The report as a JSON document."""
        return {
            "tests": {name: tally.figures() for name, tally in self.tallies.items()},
            "measured": {name: tally.measured for name, tally in self.tallies.items() if tally.measured},
            "totals": self.totals(),
        }
