"""Rebuilding the diffs GitHub leaves out: a real unified diff, comments only on certain additions."""

from __future__ import annotations

from argoai_core.models.policy import PolicySpec
from argoai_reviewer.analysis.diff import parse_patch
from argoai_reviewer.analysis.rediff import rebuild_missing_patches, rebuilt_patch
from argoai_reviewer.domain import ChangedFile, FileStatus

OLD = "a\nb\nc\n}\nd\n"
NEW = "a\nX\nc\n}\n}\nd\ne\n"


def test_rebuilt_patch_is_githubs_layout_and_parses() -> None:
    """The patch has hunks only (no file header), three lines of context, and the right counts."""
    patch, _, additions, deletions = rebuilt_patch(OLD, NEW)
    assert patch.startswith("@@ -1,5 +1,7 @@\n a\n-b\n+X\n")
    diff = parse_patch("f.py", patch)
    assert (diff.additions, diff.deletions, additions, deletions) == (3, 1, 3, 1)
    assert diff.added_lines() == {2, 5, 7}


def test_anchoring_patch_holds_only_lines_new_to_the_file() -> None:
    """A line whose text exists in the old version (a second ``}``) may be context in git's diff: no comment
    goes there; lines new to the file may be commented."""
    _, anchoring, _, _ = rebuilt_patch(OLD, NEW)
    assert parse_patch("f.py", anchoring).commentable == {2, 7}


async def test_missing_patches_are_rebuilt_and_others_left_alone() -> None:
    """Only a reviewable file without a patch is read and rebuilt; binary and excluded files are not read."""
    files = [
        ChangedFile("big.py", FileStatus.MODIFIED, 3, 1, None),
        ChangedFile("new.py", FileStatus.ADDED, 2, 0, None),
        ChangedFile("logo.png", FileStatus.MODIFIED, 0, 0, None),
        ChangedFile("vendor/lib.py", FileStatus.MODIFIED, 5, 0, None),
        ChangedFile("ok.py", FileStatus.MODIFIED, 1, 0, "@@ -1 +1,2 @@\n a\n+b"),
    ]
    reads: list[str] = []

    async def base(path: str) -> str | None:
        reads.append(f"base:{path}")
        return OLD

    async def head(path: str) -> str | None:
        reads.append(f"head:{path}")
        return {"big.py": NEW, "new.py": "x\ny\n"}.get(path)

    rebuilt = await rebuild_missing_patches(files, PolicySpec(), base_text=base, head_text=head)
    assert rebuilt.paths == ("big.py", "new.py")
    assert sorted(reads) == ["base:big.py", "head:big.py", "head:new.py"]
    by_path = {f.path: f for f in rebuilt.files}
    assert by_path["new.py"].patch == "@@ -0,0 +1,2 @@\n+x\n+y"
    assert by_path["logo.png"].patch is None
    assert by_path["ok.py"] is files[4]
    anchors = {f.path: f for f in rebuilt.anchors}
    assert parse_patch("big.py", anchors["big.py"].patch or "").commentable == {2, 7}
