"""Stable fingerprints of findings, so the same remark is not posted again on every push.

A fingerprint depends only on the file, the category and the quoted code (normalised exactly as anchoring
compares quotes: line endings, trailing whitespace, blank edge lines and common indentation do not
count). Line numbers, severity, title and wording do not count either: code that moved keeps its
fingerprint, code that changed gets a new one. The pipeline stores posted fingerprints per pull request and
skips findings whose fingerprint it has already posted.
"""

from __future__ import annotations

import hashlib

from argoai_core.models.findings import Finding, ToolFinding
from argoai_reviewer.analysis.anchoring import Placement, normalize_block

VERSION = "v1"
"""Part of every fingerprint: bump it when the recipe changes, so old ones stop matching."""


def _clean_path(path: str) -> str:
    path = path.strip()
    while path.startswith("./"):
        path = path[2:]
    return path.lstrip("/")


def fingerprint(finding: Finding, *, path: str | None = None) -> str:
    """32 hex characters identifying ``finding`` by file (``path`` overrides ``finding.path``), category
    and normalised quote."""
    quote = "\n".join(normalize_block(finding.quote))
    parts = [VERSION, _clean_path(path or finding.path), finding.category.value, quote]
    if isinstance(finding, ToolFinding):
        parts += [finding.tool, finding.rule, finding.title]
    key = "\x1f".join(parts)
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def fingerprint_of(placement: Placement) -> str:
    """The fingerprint of a placed finding, using the path it was resolved to (e.g. ``./a.py`` → ``a.py``)."""
    return fingerprint(placement.finding, path=placement.path)
