"""Unpacking repository archives: what is kept, and the unsafe refused (traversal, links, .git, bombs)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from argoai_core.errors import InvalidInputError
from argoai_reviewer.workspace.archive import FILES, Manifest, OverLimitError, UnpackLimits, unpack
from argoai_reviewer.workspace.paths import clean_path
from reviewer.workspace.archives import PREFIX, archive, member


def _unpack(data: bytes, tmp_path: Path, limits: UnpackLimits | None = None) -> Manifest:
    return unpack(io.BytesIO(data), tmp_path / "snap", limits or UnpackLimits())


def test_files_are_kept_under_the_stripped_prefix_with_a_digest(tmp_path: Path) -> None:
    """GitHub's top directory is stripped; text files are written with a content digest in the manifest."""
    manifest = _unpack(archive({"src/app.py": "x = 1\n", "README.md": "hi\n"}), tmp_path)
    assert sorted(manifest.files) == ["README.md", "src/app.py"]
    assert (tmp_path / "snap" / FILES / "src" / "app.py").read_text() == "x = 1\n"
    assert manifest.files["src/app.py"].size == 6
    assert Manifest.load(tmp_path / "snap").files == manifest.files


@pytest.mark.parametrize(
    "name",
    [f"{PREFIX}/../escape.txt", f"{PREFIX}/a/../../escape.txt", "/etc/evil", f"{PREFIX}//abs"],
)
def test_paths_leaving_the_tree_are_refused(tmp_path: Path, name: str) -> None:
    """Members naming ``..`` out of the tree or absolute paths are refused; nothing lands outside."""
    data = archive({"ok.py": "ok\n"}, [(member(name, b"pwned\n"), b"pwned\n")])
    manifest = _unpack(data, tmp_path)
    assert list(manifest.files) == ["ok.py"]
    assert manifest.refused_count == 1
    assert not any(p.read_bytes() == b"pwned\n" for p in tmp_path.rglob("*") if p.is_file())
    assert not Path("/etc/evil").exists()


def test_git_directory_is_never_unpacked(tmp_path: Path) -> None:
    """A ``.git/`` member (anywhere in the tree) is refused."""
    manifest = _unpack(
        archive({".git/config": "[core]\n", "sub/.git/HEAD": "ref\n", "a.py": "a\n"}), tmp_path
    )
    assert list(manifest.files) == ["a.py"]
    assert {name for name, _ in manifest.refused} == {".git/config", "sub/.git/HEAD"}
    assert not (tmp_path / "snap" / FILES / ".git").exists()


def test_symlinks_are_recorded_never_created_and_never_point_out(tmp_path: Path) -> None:
    """An in-tree symlink is recorded with its target; links out of the tree are refused; none is created."""
    extra = [
        (member(f"{PREFIX}/docs/link.py", kind=tarfile.SYMTYPE, link="../src/app.py"), b""),
        (member(f"{PREFIX}/out", kind=tarfile.SYMTYPE, link="../../../../etc/passwd"), b""),
        (member(f"{PREFIX}/abs", kind=tarfile.SYMTYPE, link="/etc/passwd"), b""),
    ]
    manifest = _unpack(archive({"src/app.py": "x\n"}, extra), tmp_path)
    assert manifest.symlinks == {"docs/link.py": "src/app.py"}
    assert {name for name, _ in manifest.refused} == {"out", "abs"}
    assert not any(p.is_symlink() for p in (tmp_path / "snap").rglob("*"))


def test_hard_links_and_device_files_are_refused(tmp_path: Path) -> None:
    """Hard links (even in the tree), character devices and FIFOs are refused."""
    extra = [
        (member(f"{PREFIX}/hard", kind=tarfile.LNKTYPE, link=f"{PREFIX}/a.py"), b""),
        (member(f"{PREFIX}/dev", kind=tarfile.CHRTYPE), b""),
        (member(f"{PREFIX}/fifo", kind=tarfile.FIFOTYPE), b""),
    ]
    manifest = _unpack(archive({"a.py": "a\n"}, extra), tmp_path)
    assert list(manifest.files) == ["a.py"]
    assert {name for name, _ in manifest.refused} == {"hard", "dev", "fifo"}


def test_binary_and_oversized_files_are_listed_but_not_kept(tmp_path: Path) -> None:
    """A file with NUL bytes, or larger than max_file_bytes, is omitted (with the reason), not written."""
    data = archive({"img.png": b"\x89PNG\x00\x01", "big.js": "x" * 2000, "a.py": "a\n"})
    manifest = _unpack(data, tmp_path, UnpackLimits(max_file_bytes=1000))
    assert list(manifest.files) == ["a.py"]
    assert manifest.omitted == {"img.png": "binary", "big.js": "larger than 1,000 bytes"}


def test_too_many_members_stop_unpacking(tmp_path: Path) -> None:
    """More members than max_files: OverLimitError naming the cap (a bomb of tiny files)."""
    with pytest.raises(OverLimitError, match="more than 50 files"):
        _unpack(archive({f"f{i}.txt": "x" for i in range(60)}), tmp_path, UnpackLimits(max_files=50))


def test_unpacked_size_is_capped_before_data_is_read(tmp_path: Path) -> None:
    """Members announcing more bytes than max_bytes stop unpacking: a gzip bomb of zeros never inflates."""
    zeros = b"\x00" * 5_000_000
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.addfile(member(f"{PREFIX}/zeros.bin", zeros), io.BytesIO(zeros))
    assert len(buffer.getvalue()) < 50_000  # small on the wire
    with pytest.raises(OverLimitError, match="unpacks to more than"):
        _unpack(buffer.getvalue(), tmp_path, UnpackLimits(max_bytes=1_000_000))


def test_garbage_is_not_an_archive(tmp_path: Path) -> None:
    """Bytes that are no tar archive are an InvalidInputError."""
    with pytest.raises(InvalidInputError):
        _unpack(b"<html>not an archive</html>" * 100, tmp_path)


@pytest.mark.parametrize(
    ("raw", "clean"),
    [
        ("a/./b//c.py", "a/b/c.py"),
        ("a/../b.py", "b.py"),
        ("../b.py", None),
        ("/etc/passwd", None),
        (".git/config", None),
        ("x/.git/y", None),
        ("C:/windows", None),
        ("", None),
        (".", None),
        (".github/workflows/ci.yml", ".github/workflows/ci.yml"),
    ],
)
def test_clean_path(raw: str, clean: str | None) -> None:
    """Paths are normalised; absolute, escaping, .git and drive paths are refused."""
    assert clean_path(raw) == clean
