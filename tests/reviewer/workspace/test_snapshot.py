"""Reading a snapshot: line ranges, directories, search; nothing outside the tree, nothing under .git."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from argoai_reviewer.workspace.archive import UnpackLimits, unpack
from argoai_reviewer.workspace.snapshot import Snapshot, SnapshotKey
from reviewer.workspace.archives import PREFIX, archive, member

FILES = {
    "src/app.py": "import os\n\ndef main():\n    return os.getcwd()\r\n",
    "src/util/strings.py": "def shout(text):\n    return text.upper()\n",
    "README.md": "Main app\n",
    ".git/config": "[remote]\n",
}


@pytest.fixture
def snapshot(tmp_path: Path) -> Snapshot:
    """A snapshot with a few files, an in-tree symlink and a link loop."""
    extra = [
        (member(f"{PREFIX}/latest.py", kind=tarfile.SYMTYPE, link="src/app.py"), b""),
        (member(f"{PREFIX}/loop1", kind=tarfile.SYMTYPE, link="loop2"), b""),
        (member(f"{PREFIX}/loop2", kind=tarfile.SYMTYPE, link="loop1"), b""),
    ]
    manifest = unpack(io.BytesIO(archive(FILES, extra)), tmp_path / "s", UnpackLimits())
    return Snapshot(SnapshotKey("h", "o", "r", "a" * 40), tmp_path / "s", manifest)


def test_read_lines_is_one_based_inclusive_and_clamped(snapshot: Snapshot) -> None:
    """Lines 3-9 of a 4-line file are lines 3 and 4, CR of CRLF dropped."""
    assert snapshot.read_lines("src/app.py", 3, 9) == ["def main():", "    return os.getcwd()"]


@pytest.mark.parametrize("path", ["../s/files/src/app.py", "/etc/passwd", ".git/config", "loop1", "src"])
def test_paths_outside_or_not_files_read_nothing(snapshot: Snapshot, path: str) -> None:
    """Traversal, absolute paths, .git, link loops and directories read as None."""
    assert snapshot.read_text(path) is None
    assert snapshot.digest(path) is None


def test_symlinks_are_followed_inside_the_tree(snapshot: Snapshot) -> None:
    """An in-tree symlink reads its target's content."""
    assert snapshot.read_text("latest.py") == snapshot.read_text("src/app.py")


def test_list_dir_shows_files_dirs_and_links(snapshot: Snapshot) -> None:
    """The root lists files, directories and symlinks by name; .git is not there; a file is no directory."""
    root = {entry.name: entry.kind for entry in snapshot.list_dir("") or []}
    assert root == {"README.md": "file", "latest.py": "symlink", "loop1": "symlink", "loop2": "symlink",
                    "src": "dir"}  # fmt: skip
    assert [e.path for e in snapshot.list_dir("src/") or []] == ["src/app.py", "src/util"]
    assert snapshot.list_dir("README.md") is None
    assert snapshot.list_dir("../") is None


def test_search_literal_and_regex(snapshot: Snapshot) -> None:
    """A literal search finds whole lines with their numbers; a regex search too; a bad regex is refused."""
    assert [(h.path, h.line) for h in snapshot.search("return")] == [
        ("src/app.py", 4),
        ("src/util/strings.py", 2),
    ]
    assert [h.text for h in snapshot.search(r"def \w+\(text\)", regex=True)] == ["def shout(text):"]
    assert snapshot.search("RETURN", ignore_case=True, paths=["src/app.py"])[0].line == 4
    with pytest.raises(ValueError, match="invalid regular expression"):
        snapshot.search("(", regex=True)
