"""The diff model: parsing GitHub patches and whole git diffs into commentable lines."""

from __future__ import annotations

from pathlib import Path

import pytest

from argoai_core.errors import InvalidInputError, PermanentError
from argoai_reviewer.analysis.diff import (
    FileDiff,
    PatchParseError,
    changed_files,
    from_changed_file,
    parse_patch,
    parse_unified_diff,
)
from argoai_reviewer.domain import ChangedFile, FileStatus

FIXTURES = Path(__file__).parents[2] / "fixtures" / "diffs"


def _local() -> dict[str, FileDiff]:
    text = (FIXTURES / "local.diff").read_bytes().decode("utf-8")
    return {diff.path: diff for diff in parse_unified_diff(text)}


TWO_HUNKS = """@@ -2,7 +2,7 @@ def first():
 line 2
 line 3
 line 4
-line 5
+line five
 line 6
 line 7
 line 8
@@ -27,7 +27,8 @@ class Second:
 line 27
 line 28
 line 29
-line 30
+line thirty
+line 30b
 line 31
 line 32
 line 33
"""


def test_patch_lines_numbered_in_both_files() -> None:
    """A GitHub patch without ---/+++ header is parsed with old and new line numbers per line."""
    diff = parse_patch("a.py", "@@ -1,3 +1,4 @@ def f():\n a\n-b\n+B\n c\n+d\n")
    (hunk,) = diff.hunks
    assert (hunk.old_start, hunk.old_len, hunk.new_start, hunk.new_len) == (1, 3, 1, 4)
    assert hunk.section == "def f():"
    assert [(line.kind, line.old, line.new, line.text) for line in hunk.lines] == [
        (" ", 1, 1, "a"),
        ("-", 2, None, "b"),
        ("+", None, 2, "B"),
        (" ", 3, 3, "c"),
        ("+", None, 4, "d"),
    ]


def test_commentable_is_added_and_context_lines() -> None:
    """Only added and context lines are commentable on side RIGHT; removed lines are not."""
    diff = parse_patch("a.py", "@@ -1,3 +1,4 @@\n a\n-b\n+B\n c\n+d\n")
    assert diff.commentable == frozenset({1, 2, 3, 4})
    assert diff.added_lines() == frozenset({2, 4})
    assert diff.removed_lines() == frozenset({2})
    assert (diff.additions, diff.deletions, diff.changed_lines) == (2, 1, 3)


def test_several_hunks_map_lines_to_their_hunk() -> None:
    """Each commentable line belongs to exactly its hunk; lines between hunks belong to none."""
    diff = parse_patch("m.py", TWO_HUNKS)
    first, second = diff.hunks
    assert diff.commentable == frozenset(range(2, 9)) | frozenset(range(27, 35))
    assert diff.hunk_of(5) is first
    assert diff.hunk_of(30) is second
    assert diff.hunk_of(15) is None
    assert diff.hunk_of(1) is None
    assert second.section == "class Second:"
    assert first.right_lines() == frozenset(range(2, 9))


def test_in_one_hunk_rejects_ranges_across_hunks() -> None:
    """A range is valid only when every line is commentable and all share one hunk."""
    diff = parse_patch("m.py", TWO_HUNKS)
    assert diff.in_one_hunk(2, 8)
    assert diff.in_one_hunk(30, 31)
    assert not diff.in_one_hunk(8, 27)
    assert not diff.in_one_hunk(7, 9)
    assert not diff.in_one_hunk(40, 40)


def test_new_text_returns_text_of_lines_in_diff_only() -> None:
    """new_text gives the new-file text of added/context lines and None for lines outside the diff."""
    diff = parse_patch("m.py", TWO_HUNKS)
    assert diff.new_text(5) == "line five"
    assert diff.new_text(31) == "line 30b"
    assert diff.new_text(20) is None


def test_no_newline_marker_is_not_a_line() -> None:
    r"""The '\ No newline at end of file' marker is dropped and does not shift numbering."""
    patch = "@@ -1,2 +1,2 @@\n a\n-nonl\n\\ No newline at end of file\n+nonl2\n\\ No newline at end of file"
    diff = parse_patch("n.txt", patch)
    assert [line.text for line in diff.hunks[0].lines] == ["a", "nonl", "nonl2"]
    assert diff.commentable == frozenset({1, 2})
    assert diff.new_text(2) == "nonl2"


def test_crlf_text_has_no_carriage_return() -> None:
    """CRLF line endings are removed from line text, like LF ones."""
    diff = parse_patch("c.txt", "@@ -1,2 +1,2 @@\r\n crlf1\r\n-crlf2\r\n+CRLF2\r\n")
    assert [line.text for line in diff.hunks[0].lines] == ["crlf1", "crlf2", "CRLF2"]


def test_only_lf_splits_lines() -> None:
    """Form feeds, lone CRs and U+2028 inside a line do not split it (only LF does)."""
    diff = parse_patch("x.js", "@@ -1,1 +1,2 @@\n a\x0cb\rc\u2028d\n+e\n")
    assert diff.new_text(1) == "a\x0cb\rc\u2028d"
    assert diff.new_text(2) == "e"


def test_non_ascii_text() -> None:
    """Non-ASCII text is kept as is."""
    diff = parse_patch("u.py", "@@ -0,0 +1,2 @@\n+héllo ✓\n+名前 = 1\n", status="added")
    assert diff.new_text(1) == "héllo ✓"
    assert diff.new_text(2) == "名前 = 1"


def test_patch_without_trailing_newline() -> None:
    """GitHub patches usually lack a final newline; the last line is still parsed."""
    diff = parse_patch("a", "@@ -1 +1 @@\n-a\n+b")
    assert diff.new_text(1) == "b"


def test_empty_patch_has_no_hunks() -> None:
    """An empty patch (rename or mode change only) gives a file with nothing commentable."""
    diff = parse_patch("a", "", status="renamed", old_path="b")
    assert diff.hunks == ()
    assert diff.commentable == frozenset()
    assert diff.old_path == "b"


def test_line_starting_with_dashes_inside_hunk() -> None:
    """A removed line whose text starts with '-- ' is a line of the hunk, not a file header."""
    diff = parse_patch("q.sql", "@@ -1,2 +1,2 @@\n--- comment\n+-- new comment\n x\n")
    assert [line.kind for line in diff.hunks[0].lines] == ["-", "+", " "]
    assert diff.new_text(1) == "-- new comment"


def test_malformed_patch_is_a_permanent_error() -> None:
    """A hunk shorter than its header is a PatchParseError (permanent, names the file)."""
    with pytest.raises(PatchParseError, match=r"short\.py") as info:
        parse_patch("short.py", "@@ -1,3 +1,3 @@\n a\n")
    assert isinstance(info.value, InvalidInputError)
    assert isinstance(info.value, PermanentError)


def test_garbage_patch_is_rejected() -> None:
    """Text that is not a hunk at all is rejected rather than read as an empty diff."""
    with pytest.raises(PatchParseError):
        parse_patch("x", "@@ -1,2 +1,2 @@\n a\n?? b\n")


def test_from_changed_file_without_patch_is_omitted() -> None:
    """A file GitHub sent without patch but with changes is marked patch_omitted, with no lines."""
    changed = ChangedFile(path="big.json", status=FileStatus.MODIFIED, additions=900, deletions=1, patch=None)
    diff = from_changed_file(changed)
    assert diff.patch_omitted
    assert diff.commentable == frozenset()


def test_from_changed_file_pure_rename_is_not_omitted() -> None:
    """A pure rename (no patch, no changes) is not an omitted patch and keeps its old path."""
    changed = ChangedFile(
        path="new.py", status=FileStatus.RENAMED, additions=0, deletions=0, patch=None, previous_path="old.py"
    )
    diff = from_changed_file(changed)
    assert not diff.patch_omitted
    assert (diff.path, diff.old_path, diff.status) == ("new.py", "old.py", "renamed")


def test_from_changed_file_with_patch() -> None:
    """A renamed file with changes is parsed from its patch and keeps status and previous path."""
    changed = ChangedFile(
        path="n.py",
        status=FileStatus.RENAMED,
        additions=1,
        deletions=1,
        patch="@@ -1 +1 @@\n-a\n+b",
        previous_path="o.py",
    )
    diff = from_changed_file(changed)
    assert (diff.path, diff.old_path, diff.status) == ("n.py", "o.py", "renamed")
    assert diff.new_text(1) == "b"


def test_unified_diff_statuses() -> None:
    """A whole git diff yields each file with the right status, path and old path."""
    files = _local()
    summary = {path: (diff.status, diff.old_path, diff.binary) for path, diff in files.items()}
    assert summary == {
        "added.bin": ("added", None, True),
        "b.bin": ("modified", None, True),
        "c.txt": ("modified", None, False),
        "café.txt": ("modified", None, False),
        "del.txt": ("removed", None, False),
        "gone.bin": ("removed", None, True),
        "m.txt": ("modified", None, False),
        "multi.py": ("modified", None, False),
        "n.txt": ("modified", None, False),
        "new.py": ("added", None, False),
        "new.txt": ("renamed", "old.txt", False),
        "ren3.txt": ("renamed", "ren2.txt", False),
    }


def test_unified_diff_binary_and_deleted_have_no_commentable_lines() -> None:
    """Binary files, deleted files and pure renames have no line a RIGHT comment may use."""
    files = _local()
    for path in ("added.bin", "b.bin", "gone.bin", "del.txt", "new.txt"):
        assert files[path].commentable == frozenset(), path
    assert files["del.txt"].removed_lines() == frozenset({1, 2})


def test_unified_diff_rename_with_changes() -> None:
    """A renamed file with changes has its hunks under the new path."""
    diff = _local()["ren3.txt"]
    assert diff.commentable == frozenset({1, 2, 3})
    assert diff.new_text(2) == "R2"


def test_unified_diff_crlf_newline_and_new_file() -> None:
    """CRLF text, no-newline-at-end markers and new files parse in a whole diff too."""
    files = _local()
    assert files["c.txt"].new_text(2) == "CRLF2"
    assert files["n.txt"].new_text(1) == "nonl2"
    assert files["new.py"].new_text(1) == "héllo ✓"
    assert files["new.py"].added_lines() == frozenset({1, 2})
    assert [h.new_start for h in files["multi.py"].hunks] == [2, 27]


def test_unified_diff_unquotes_git_quoted_paths() -> None:
    """Paths git quoted C-style (non-ASCII with core.quotepath) are decoded; spaces are kept."""
    text = (FIXTURES / "quoted.diff").read_text(encoding="utf-8")
    paths = {diff.path for diff in parse_unified_diff(text)}
    assert "café.txt" in paths
    assert "sp ace.txt" in paths
    assert not any('"' in path or "\\" in path for path in paths)


def test_unified_diff_empty() -> None:
    """An empty diff is no files."""
    assert parse_unified_diff("") == []


@pytest.mark.parametrize("name", ["local.diff", "quoted.diff"])
def test_changed_files_of_a_git_diff_parse_back_to_the_same_files(name: str) -> None:
    """A local range's changed files (GitHub-style patches) carry the same paths, renames and statuses as the
    whole diff, git-quoted paths decoded, binary files without a patch, and every hunk line intact."""
    text = (FIXTURES / name).read_bytes().decode("utf-8")
    whole = parse_unified_diff(text)
    files = changed_files(text)
    assert [(f.path, f.previous_path, str(f.status)) for f in files] == [
        (d.path, d.old_path, d.status) for d in whole
    ]
    assert not any('"' in f.path or "\\" in f.path for f in files)
    for changed, diff in zip(files, whole, strict=True):
        if diff.binary:
            assert changed.patch is None
        else:
            assert from_changed_file(changed).hunks == diff.hunks
