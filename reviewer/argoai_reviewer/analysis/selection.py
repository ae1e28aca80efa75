"""Which changed files a review looks at, and why each other file is skipped.

Every file of the pull request ends up either in ``Selection.reviewed`` or in ``Selection.skipped`` with a
reason, so the review summary can say exactly what was not looked at. Rules, in order, first match wins:

1. removed files: nothing is left on side RIGHT to comment on (``deleted``);
2. the policy's ``exclude`` globs, then its ``include`` globs (gitignore-style, via ``pathspec``);
3. with ``skip_generated``: lock, vendored, generated, minified and binary files by path, and files whose
   patch marks them generated (``@generated``, ``DO NOT EDIT``) in its first lines;
4. files without a patch (binary, renamed without changes, or too large for GitHub when the review could
   not rebuild the diff from the file's two versions, see :mod:`~argoai_reviewer.analysis.rediff`);
5. the policy's caps: ``max_files``, ``max_lines`` (changed = added + removed lines) and
   ``max_diff_tokens`` (estimated from the patches). When everything fits, every file is reviewed. When a
   cap bites, files are taken by how likely they are to hold a bug (:func:`priority`): security-relevant
   source first, then other hand-written source, configuration, tests, documentation, generated-looking
   files; within a class, smaller changes first and, among similar sizes, denser ones (more changed lines
   per line of the patch); ties keep GitHub's order. Files are taken first-fit in that order (a file that
   would exceed a cap is skipped, a later smaller one may still fit), so the same pull request always gives
   the same choice, and every file left out is reported with the cap that left it out.
"""

from __future__ import annotations

import math
import posixpath
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import pathspec

from argoai_core.models.policy import PolicySpec
from argoai_reviewer.domain import ChangedFile, FileStatus

DELETED = "deleted"
EXCLUDED = "excluded by the policy's exclude globs"
NOT_INCLUDED = "not matched by the policy's include globs"
DIFF_TOO_LARGE = "diff too large for GitHub's API"
BINARY = "binary"
NO_CONTENT_CHANGE = "renamed or copied without content changes"
NO_DIFF = "no diff from GitHub (binary or empty file)"
OVER_MAX_FILES = "over the policy's max_files"
OVER_MAX_LINES = "over the policy's max_lines"
OVER_MAX_TOKENS = "over the policy's max_diff_tokens"

_BINARY_EXTENSIONS = (
    *("png", "jpg", "jpeg", "gif", "bmp", "ico", "webp", "tif", "tiff", "psd", "avif", "heic"),  # images
    *("woff", "woff2", "ttf", "otf", "eot"),  # fonts
    *("zip", "tar", "gz", "tgz", "bz2", "xz", "7z", "rar", "jar", "war", "ear", "whl", "egg", "nupkg"),
    *("deb", "rpm", "apk", "dmg", "iso"),  # archives and packages
    *("exe", "dll", "so", "dylib", "a", "o", "obj", "class", "pyc", "pyo", "wasm", "bin", "dat"),  # compiled
    *(
        "db",
        "sqlite",
        "sqlite3",
        "parquet",
        "pkl",
        "pickle",
        "npy",
        "npz",
        "h5",
        "onnx",
        "pt",
        "ckpt",
    ),  # data
    *("safetensors", "mp3", "mp4", "wav", "ogg", "flac", "avi", "mov", "mkv", "webm"),  # models, media
    *("pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx"),  # documents
)

# Each default group: the reason reported, and gitignore-style patterns of paths never worth a review.
DEFAULT_SKIP_PATTERNS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "lock file",
        (
            "*.lock",
            "package-lock.json",
            "npm-shrinkwrap.json",
            "yarn.lock",
            "pnpm-lock.yaml",
            "bun.lockb",
            "poetry.lock",
            "Pipfile.lock",
            "uv.lock",
            "Cargo.lock",
            "Gemfile.lock",
            "composer.lock",
            "go.sum",
            "flake.lock",
            "packages.lock.json",
            "gradle.lockfile",
            "mix.lock",
            "pubspec.lock",
            "Podfile.lock",
            "*.lockfile",
        ),
    ),
    (
        "vendored",
        ("vendor/", "third_party/", "third-party/", "node_modules/", "bower_components/", "Pods/", ".yarn/"),
    ),
    # Only names that hold build output wherever they occur ("build/" often holds code).
    ("build output", ("dist/", "__pycache__/", ".next/")),
    ("minified", ("*.min.js", "*.min.css", "*.min.mjs", "*-min.js", "*.bundle.js", "*.map")),
    (
        "generated",
        (
            "*_pb2.py",
            "*_pb2.pyi",
            "*_pb2_grpc.py",
            "*.pb.go",
            "*.pb.gw.go",
            "*.pb.cc",
            "*.pb.h",
            "*_grpc.pb.go",
            "*.generated.*",
            "*.g.dart",
            "*.freezed.dart",
            "*_generated.go",
            "zz_generated.*",
            "*.designer.cs",
            "__snapshots__/",
            "*.snap",
        ),
    ),
    (
        BINARY,
        tuple(f"*.{ext}" for ext in _BINARY_EXTENSIONS),
    ),
)

# Markers generators write at the top of their output (Go's "Code generated … DO NOT EDIT.", "@generated").
_GENERATED_MARKER = re.compile(
    r"@generated\b|\bDO NOT EDIT\b|\bCode generated by\b|\b[Tt]his file (?:is|was) (?:[Aa]uto-?)?generated\b"
    r"|<auto-generated"
)
_MARKER_LINES = 12


@dataclass(frozen=True)
class Selection:
    """The files to review, and every other file with the reason it is skipped (input order kept)."""

    reviewed: list[ChangedFile] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)


@lru_cache(maxsize=256)
def _spec(patterns: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines(patterns)


def matches(path: str, patterns: Sequence[str]) -> bool:
    """True when ``path`` matches any of the gitignore-style ``patterns``."""
    return bool(patterns) and _spec(tuple(patterns)).match_file(path)


def default_skip_reason(path: str) -> str | None:
    """The default reason to skip ``path`` (lock, vendored, generated, minified, binary…), or None."""
    for reason, patterns in DEFAULT_SKIP_PATTERNS:
        if _spec(patterns).match_file(path):
            return reason
    return None


def marked_generated(patch: str | None) -> bool:
    """True when the first lines of ``patch`` carry a generator's marker (``@generated``, ``DO NOT EDIT``)."""
    if not patch:
        return False
    head = patch.split("\n", _MARKER_LINES + 1)[:_MARKER_LINES]
    # Only the top of the file says whether it is generated: require the first hunk to start there.
    first = head[0]
    if not first.startswith("@@ -") or not re.match(r"@@ -\d+(?:,\d+)? \+([1-5])(?:,\d+)? @@", first):
        return False
    return any(_GENERATED_MARKER.search(line) for line in head[1:] if not line.startswith("-"))


def _missing_patch_reason(changed: ChangedFile) -> str:
    if changed.status in (FileStatus.RENAMED, FileStatus.COPIED) and not (
        changed.additions or changed.deletions
    ):
        return NO_CONTENT_CHANGE
    if default_skip_reason(changed.path) == BINARY:
        return BINARY
    if changed.additions or changed.deletions:
        return DIFF_TOO_LARGE
    return NO_DIFF


def skip_reason(changed: ChangedFile, policy: PolicySpec, *, missing_patch_ok: bool = False) -> str | None:
    """Why ``changed`` is not reviewed under ``policy`` regardless of the other files, or None.

    ``missing_patch_ok``: leave out the missing-patch rule (asking whether a rebuilt diff would be reviewed).
    """
    if changed.status == FileStatus.REMOVED:
        return DELETED
    if matches(changed.path, policy.exclude):
        return EXCLUDED
    if policy.include and not matches(changed.path, policy.include):
        return NOT_INCLUDED
    if policy.skip_generated:
        reason = default_skip_reason(changed.path)
        if reason is not None:
            return reason
        if marked_generated(changed.patch):
            return "generated (marked in the file)"
    if changed.patch is None:
        return None if missing_patch_ok else _missing_patch_reason(changed)
    if not changed.patch.strip():
        return NO_CONTENT_CHANGE
    return None


# Paths whose bugs tend to be security bugs: reviewed first when not everything can be.
_SECURITY = re.compile(
    r"auth|login|logout|passw|secret|token|crypt|cipher|session|permission|privilege|acl|oauth|jwt|saml"
    r"|csrf|xss|sanitiz|escape|secur|credential|cert|tls|ssl|sql|signup|payment|billing",
    re.IGNORECASE,
)
_TEST = re.compile(
    r"(^|/)(tests?|__tests__|spec|specs|testing|testdata|fixtures?)/|(^|/)test_[^/]+$|_test\.[a-z]+$"
    r"|\.(test|spec)\.[a-z]+$|Tests?\.(java|kt|cs|scala)$|_spec\.rb$",
)
_DOC_EXTENSIONS = frozenset({".md", ".markdown", ".rst", ".txt", ".adoc", ".asciidoc", ".org"})
_DOC_DIRS = re.compile(r"(^|/)(docs?|documentation|examples?)/")
_CONFIG_EXTENSIONS = frozenset(
    {".yaml", ".yml", ".json", ".toml", ".ini", ".cfg", ".conf", ".xml", ".csv", ".tsv", ".properties"}
)
_CHARS_PER_TOKEN = 3.0

SECURITY_SOURCE, SOURCE, CONFIGURATION, TEST, DOCUMENTATION, GENERATED = range(6)
CLASS_NAMES = ("security-relevant code", "code", "configuration", "tests", "documentation", "generated")


def is_test_path(path: str) -> bool:
    """Whether ``path`` looks like a test (tests directory, ``test_*.py``, ``*_test.go``, ``*.spec.ts``…)."""
    return bool(_TEST.search(path))


def file_class(changed: ChangedFile) -> int:
    """How likely a file is to hold a bug, as a class (lower first): see the module docstring."""
    path = changed.path
    extension = posixpath.splitext(path)[1].lower()
    if default_skip_reason(path) is not None or marked_generated(changed.patch):
        return GENERATED
    if is_test_path(path):
        return TEST
    if extension in _DOC_EXTENSIONS or _DOC_DIRS.search(path):
        return DOCUMENTATION
    # CI workflows run with the repository's secrets; container images decide what runs in production.
    if path.startswith(".github/workflows/") or posixpath.basename(path) == "Dockerfile":
        return SECURITY_SOURCE
    if extension in _CONFIG_EXTENSIONS:
        return CONFIGURATION
    return SECURITY_SOURCE if _SECURITY.search(path) else SOURCE


def diff_tokens(changed: ChangedFile) -> int:
    """Estimated prompt tokens of a file's patch (its length at about three characters per token)."""
    return math.ceil(len(changed.patch or "") / _CHARS_PER_TOKEN)


def _density(changed: ChangedFile) -> float:
    """Changed lines per line of the patch: 1.0 when every line shown is a change."""
    shown = (changed.patch or "").count("\n") + 1
    return (changed.additions + changed.deletions) / shown


def priority(changed: ChangedFile, index: int) -> tuple[int, int, float, int, int]:
    """Sort key (lowest first) of a file when a cap bites: class, size class (powers of two of changed
    lines), denser first, size, GitHub's order."""
    size = changed.additions + changed.deletions
    return (file_class(changed), max(0, size).bit_length(), -round(_density(changed), 2), size, index)


def select_files(files: Sequence[ChangedFile], policy: PolicySpec) -> Selection:
    """Split ``files`` (in GitHub's order) into the ones to review and the skipped ones with reasons."""
    reasons: dict[int, str] = {}
    candidates: list[int] = []
    for index, changed in enumerate(files):
        reason = skip_reason(changed, policy)
        if reason is None:
            candidates.append(index)
        else:
            reasons[index] = reason
    sizes = {i: files[i].additions + files[i].deletions for i in candidates}
    tokens = {i: diff_tokens(files[i]) for i in candidates}
    fits = (
        len(candidates) <= policy.max_files
        and sum(sizes.values()) <= policy.max_lines
        and sum(tokens.values()) <= policy.max_diff_tokens
    )
    if not fits:
        taken = lines = spent = 0
        for index in sorted(candidates, key=lambda i: priority(files[i], i)):
            if taken >= policy.max_files:
                reasons[index] = f"{OVER_MAX_FILES} ({policy.max_files})"
            elif lines + sizes[index] > policy.max_lines:
                reasons[index] = f"{OVER_MAX_LINES} ({policy.max_lines})"
            elif spent + tokens[index] > policy.max_diff_tokens:
                reasons[index] = f"{OVER_MAX_TOKENS} ({policy.max_diff_tokens})"
            else:
                taken, lines, spent = taken + 1, lines + sizes[index], spent + tokens[index]
    selection = Selection()
    for index, changed in enumerate(files):
        if index in reasons:
            selection.skipped.append((changed.path, reasons[index]))
        else:
            selection.reviewed.append(changed)
    return selection
