"""What one review covered: the record behind the summary's coverage section.

Built in two steps: file selection says what was skipped and why, context building what was sent to the
model whole or clipped; nothing a review leaves out goes unreported.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Coverage:
    """Files reviewed, skipped or clipped (each with a reason); changed lines sent of all changed lines."""

    reviewed: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    clipped: tuple[tuple[str, str], ...] = ()
    lines_sent: int = 0
    lines_total: int = 0
    # False when no LLM was configured: the analyzers alone read the lines.
    llm_used: bool = True
    # Analyzers that checked files of this review (built-in checks and tools), in their order.
    analyzers: tuple[str, ...] = ()
    # Unchanged code given to the model beside the diffs: snippets, and the files they come from.
    related_snippets: int = 0
    related_files: int = 0
    # What else the reader of the summary should know about how the change was read (e.g. no snapshot).
    notes: tuple[str, ...] = ()
    # Findings of the model that verification dropped: (path, line or None, title, the verifier's reason).
    dropped: tuple[tuple[str, int | None, str, str], ...] = ()

    @property
    def complete(self) -> bool:
        """True when nothing was skipped or clipped and every changed line was sent."""
        return not self.skipped and not self.clipped and self.lines_sent >= self.lines_total

    def with_selection(self, skipped: list[tuple[str, str]], *, llm_used: bool) -> Coverage:
        """This coverage completed with the files selection skipped, and whether an LLM read the rest."""
        return replace(self, skipped=tuple(skipped), llm_used=llm_used)

    def without_calls(self, failed: Mapping[str, int], still_sent: set[str], reason: str) -> Coverage:
        """This coverage after LLM calls failed for good.

        ``failed`` maps each path the failed calls carried to its changed lines in them; a path that no
        successful call carried (not in ``still_sent``) is no longer counted as reviewed.
        """
        clipped = dict(self.clipped)
        for path in failed:
            clipped[path] = "; ".join(part for part in (clipped.get(path), reason) if part)
        return replace(
            self,
            reviewed=tuple(path for path in self.reviewed if path not in failed or path in still_sent),
            clipped=tuple(clipped.items()),
            lines_sent=self.lines_sent - sum(failed.values()),
        )
