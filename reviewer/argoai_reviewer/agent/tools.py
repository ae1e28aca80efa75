"""The read-only tools of agent mode over one snapshot and its code index.

Each tool has a pydantic model of its arguments (unknown arguments refused) and answers plain text: numbered
lines with their paths, so the model can cite what it read. Paths are checked before anything is looked up:
absolute, ``..``, ``.git`` or a symlink leading out of the snapshot is a :class:`ToolError` naming the rule,
never a read. Answers are bounded in lines and characters; redaction and fencing are the toolbox's job.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from argoai_reviewer.agent.calls import ToolSpec
from argoai_reviewer.index.code_index import CodeIndex
from argoai_reviewer.workspace.paths import GIT_DIR, clean_path
from argoai_reviewer.workspace.snapshot import Snapshot, split_lines

MAX_READ_LINES = 300
MAX_LINE_CHARS = 400
MAX_SEARCH_HITS = 50
MAX_LOCATIONS = 30
DEFINITION_LINES = 40
MAX_ENTRIES = 200
MAX_RESULT_CHARS = 24_000


class ToolError(Exception):
    """A call the tool refuses: a bad path or argument. The message is shown to the model."""


class _Args(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ReadFile(_Args):
    """Read lines of a file of the repository at the reviewed commit (1-based, inclusive)."""

    path: str = Field(description="Path relative to the repository root, e.g. src/app/main.py")
    start_line: int = Field(default=1, ge=1, description="First line to read")
    end_line: int | None = Field(
        default=None, ge=1, description=f"Last line to read (at most {MAX_READ_LINES} lines per call)"
    )


class Search(_Args):
    """Search the repository's text files for a literal string or a regular expression, line by line."""

    pattern: str = Field(min_length=1, max_length=200, description="Text (or Python regular expression)")
    regex: bool = Field(default=False, description="Treat pattern as a regular expression")
    path_prefix: str = Field(default="", description="Only files under this directory (relative path)")


class FindDefinitions(_Args):
    """Find where a function, method, class, type or constant is defined, with its code."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z_$][\w$]*$", description="Identifier")


class FindReferences(_Args):
    """Find where an identifier is used: calls, imports, type and value uses."""

    name: str = Field(min_length=1, max_length=200, pattern=r"^[A-Za-z_$][\w$]*$", description="Identifier")


class ListDirectory(_Args):
    """List the entries of a directory of the repository ("" is the root)."""

    path: str = Field(default="", description="Directory path relative to the repository root")


def _spec(name: str, args: type[_Args]) -> ToolSpec:
    schema = args.model_json_schema()
    schema.pop("title", None)
    schema.pop("description", None)
    for prop in schema.get("properties", {}).values():
        prop.pop("title", None)
    return ToolSpec(name=name, description=(args.__doc__ or name).strip(), parameters=schema)


def check_path(path: str, *, directory: bool = False) -> str:
    """``path`` normalised, or :class:`ToolError` when it leaves the repository or names ``.git``."""
    if directory and path.strip() in ("", ".", "/"):
        return ""
    raw = path.strip()
    if raw.startswith(("/", "\\", "~")) or (len(raw) > 1 and raw[1] == ":"):
        raise ToolError(f"{path!r}: only paths relative to the repository root can be read")
    parts = posixpath.normpath(raw).split("/")
    if ".." in raw.split("/") or parts[0] == "..":
        raise ToolError(f"{path!r}: '..' is not allowed; only files inside the repository can be read")
    if GIT_DIR in parts:
        raise ToolError(f"{path!r}: the .git directory is never served")
    cleaned = clean_path(raw.rstrip("/") if directory else raw)
    if cleaned is None:
        raise ToolError(f"{path!r}: not a valid path inside the repository")
    return cleaned


@dataclass
class SnapshotTools:
    """The tools over ``snapshot`` and ``index`` (see the module docstring)."""

    snapshot: Snapshot
    index: CodeIndex

    def specs(self) -> list[ToolSpec]:
        """Every tool, as the model is told about it."""
        return [_spec(name, args) for name, (args, _) in self._tools().items()]

    def _tools(self) -> dict[str, tuple[type[_Args], Callable[[Any], str]]]:
        return {
            "read_file": (ReadFile, self.read_file),
            "search": (Search, self.search),
            "find_definitions": (FindDefinitions, self.find_definitions),
            "find_references": (FindReferences, self.find_references),
            "list_directory": (ListDirectory, self.list_directory),
        }

    def call(self, name: str, arguments: str) -> str:
        """Run tool ``name`` with ``arguments`` (JSON text); :class:`ToolError` for a bad call."""
        tools = self._tools()
        if name not in tools:
            raise ToolError(f"there is no tool {name!r}; the tools are {', '.join(tools)}")
        args_type, run = tools[name]
        try:
            args = args_type.model_validate_json(arguments or "{}")
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc']) or '(arguments)'}: {e['msg']}"
                for e in exc.errors(include_url=False, include_input=False)[:5]
            )
            raise ToolError(f"bad arguments for {name}: {problems}") from None
        text = run(args)
        if len(text) > MAX_RESULT_CHARS:
            text = text[:MAX_RESULT_CHARS] + f"\n[… {len(text) - MAX_RESULT_CHARS} more characters not shown]"
        return text

    def _file(self, path: str) -> str:
        cleaned = check_path(path)
        resolved = self.snapshot.resolve(cleaned)
        if resolved is None:
            manifest = self.snapshot.manifest
            if cleaned in manifest.omitted:
                raise ToolError(f"{cleaned}: not readable ({manifest.omitted[cleaned]})")
            if any(name == cleaned for name, _ in manifest.refused):
                raise ToolError(f"{cleaned}: not served (a link or file refused when the snapshot was made)")
            raise ToolError(f"{cleaned}: no such file in the repository at this commit")
        return resolved

    def read_file(self, args: ReadFile) -> str:
        """Numbered lines of one file."""
        path = self._file(args.path)
        lines = split_lines(self.snapshot.read_text(path) or "")
        end = min(args.end_line or args.start_line + MAX_READ_LINES - 1, args.start_line + MAX_READ_LINES - 1)
        if args.start_line > max(1, len(lines)):
            raise ToolError(f"{path} has {len(lines)} lines; start_line {args.start_line} is past its end")
        shown = lines[args.start_line - 1 : end]
        header = f"{path} lines {args.start_line}-{args.start_line + len(shown) - 1} of {len(lines)}"
        body = [f"{args.start_line + i:>6}  {line[:MAX_LINE_CHARS]}" for i, line in enumerate(shown)]
        return "\n".join([header, *body])

    def search(self, args: Search) -> str:
        """Matching lines, ``path:line: text``."""
        prefix = check_path(args.path_prefix, directory=True)
        paths = [p for p in self.snapshot.paths() if not prefix or p.startswith(prefix.rstrip("/") + "/")]
        try:
            hits = self.snapshot.search(args.pattern, regex=args.regex, paths=paths, max_hits=MAX_SEARCH_HITS)
        except ValueError as exc:
            raise ToolError(str(exc)) from None
        if not hits:
            return f"no line matches {args.pattern!r}"
        more = " (first ones only)" if len(hits) >= MAX_SEARCH_HITS else ""
        lines = [f"{hit.path}:{hit.line}: {hit.text[:MAX_LINE_CHARS]}" for hit in hits]
        return "\n".join([f"{len(hits)} matching lines{more}", *lines])

    def find_definitions(self, args: FindDefinitions) -> str:
        """Each definition with its first lines."""
        found = self.index.definitions(args.name)[:MAX_LOCATIONS]
        if not found:
            return f"no definition of {args.name} found"
        parts = []
        for where in found:
            lines = split_lines(self.snapshot.read_text(where.path) or "")
            end = min(where.tag.end, where.tag.start + DEFINITION_LINES - 1)
            code = [f"{n:>6}  {lines[n - 1][:MAX_LINE_CHARS]}" for n in range(where.tag.start, end + 1)]
            cut = f"\n[… lines {end + 1}-{where.tag.end} not shown]" if end < where.tag.end else ""
            parts.append(f"{where.path}:{where.tag.line} ({where.tag.kind})\n" + "\n".join(code) + cut)
        return "\n\n".join(parts)

    def find_references(self, args: FindReferences) -> str:
        """Each use, ``path:line: text``."""
        found = self.index.references(args.name)
        if not found:
            return f"no reference to {args.name} found"
        lines = []
        for where in found[:MAX_LOCATIONS]:
            text = self.snapshot.read_lines(where.path, where.tag.line, where.tag.line) or [""]
            lines.append(f"{where.path}:{where.tag.line}: {text[0][:MAX_LINE_CHARS]}")
        more = f" (first {MAX_LOCATIONS} of {len(found)})" if len(found) > MAX_LOCATIONS else ""
        return "\n".join([f"{len(found)} references to {args.name}{more}", *lines])

    def list_directory(self, args: ListDirectory) -> str:
        """The entries of one directory."""
        path = check_path(args.path, directory=True)
        entries = self.snapshot.list_dir(path)
        if entries is None:
            raise ToolError(f"{path}: no such directory in the repository at this commit")
        shown = [
            f"{entry.name}{'/' if entry.kind == 'dir' else ''}"
            + (f"  ({entry.size} bytes)" if entry.kind == "file" else "")
            + (f"  [{entry.kind}: {entry.note}]" if entry.note else "")
            for entry in entries[:MAX_ENTRIES]
        ]
        more = [f"[… {len(entries) - MAX_ENTRIES} more entries]"] if len(entries) > MAX_ENTRIES else []
        return "\n".join([f"{path or '.'}/ ({len(entries)} entries)", *shown, *more])
