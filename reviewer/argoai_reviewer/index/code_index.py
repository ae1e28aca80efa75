"""Find definitions and references of names across one :class:`~.tree.SourceTree` (a repository at a commit).

The first question tokenizes every file once (cached per content digest, see :mod:`.cache`); after that a
name's candidate files are those whose identifiers include it, and only those are parsed with tree-sitter
(also cached per content). So the first head of a pull request costs one pass over the repository's text
and a parse of the few files that matter; the next head re-reads only the files that changed.

Answers are plain :class:`Located` tags: ``definitions(name)`` from the tag queries' ``@definition``
captures, ``references(name)`` from their ``@reference`` captures, and for files without a grammar, every
line where the identifier appears as a whole word (kind ``text``). This is the API the review's related
context uses, and the one an agent's "find definitions / find references" tools can call.
"""

from __future__ import annotations

import re
import threading
from array import array
from collections.abc import Callable, Iterable
from typing import NamedTuple

from argoai_reviewer.index.cache import IndexCache, holds
from argoai_reviewer.index.languages import language_of
from argoai_reviewer.index.tags import FileTags, Tag
from argoai_reviewer.index.tree import SourceTree

TEXT = "text"
# A name found in more files than this is mostly used there, not defined: only files whose text looks like
# a definition of it (see _definition_hint) are parsed.
FEW_FILES = 24


def _definition_hint(name: str) -> re.Pattern[str]:
    """Text that looks like a definition of ``name`` in a common language: a keyword before it (def, class,
    function, func, type…), an assignment at the start of a line, or a method header ``name(…) {``."""
    word = re.escape(name)
    return re.compile(
        rf"(?:\b(?:def|class|function|func|interface|type|struct|enum|const|let|var|fn|record|trait|module)"
        rf"\s+(?:\([^)\n]*\)\s*)?{word}\b)"
        rf"|(?m:^[ \t]*(?:export[ \t]+)?{word}[ \t]*(?::=|=(?!=)|:))"
        rf"|(?:\s{word}\s*\([^)\n]*\)[^;{{\n]*\{{)"
    )


class Located(NamedTuple):
    """A tag in a file of the tree."""

    path: str
    tag: Tag


class CodeIndex:
    """Definitions and references over ``tree`` (see the module docstring); safe to share between threads."""

    def __init__(self, tree: SourceTree, cache: IndexCache | None = None) -> None:
        self.tree = tree
        self.cache = cache or IndexCache()
        self._lock = threading.Lock()
        self._files: list[tuple[str, array[int]]] | None = None
        self._digests: dict[str, str] = {}
        self._generation = -1

    def _file_tokens(self) -> list[tuple[str, array[int]]]:
        with self._lock:
            if self._files is None or self._generation != self.cache.generation:
                generation = self.cache.generation
                files = []
                for path in self.tree.paths():
                    digest = self.tree.digest(path)
                    if digest is not None:
                        self._digests[path] = digest
                        files.append((path, self.cache.tokens(digest, self._reader(path))))
                self._files, self._generation = files, generation
            return self._files

    def _reader(self, path: str) -> Callable[[], str | None]:
        return lambda: self.tree.read_text(path)

    def files_with(self, names: Iterable[str]) -> dict[str, list[str]]:
        """For each of ``names``, the files whose identifiers include it (path order)."""
        files = self._file_tokens()
        ids = self.cache.ids_of(names)
        found: dict[str, list[str]] = {name: [] for name in names}
        for path, tokens in files:
            for name, token in ids.items():
                if holds(tokens, token):
                    found[name].append(path)
        return found

    def tags(self, path: str) -> FileTags | None:
        """The tags of ``path``; None when no grammar reads it (or the tree does not hold it)."""
        language = language_of(path)
        digest = self.tree.digest(path)
        if language is None or digest is None:
            return None
        return self.cache.tags(digest, language, lambda: _encoded(self.tree.read_text(path)))

    def likely_definers(self, name: str, paths: list[str]) -> list[str]:
        """Of ``paths`` (files holding ``name``), those that may define it: all of them when they are few,
        else only those where a line holding it looks like a definition of it (a cheap filter before
        parsing, remembered per content)."""
        if len(paths) <= FEW_FILES:
            return paths
        hint = _definition_hint(name)
        found = []
        for path in paths:
            digest = self._digests.get(path) or self.tree.digest(path)
            if digest is not None and self.cache.may_define(digest, name, self._check(path, name, hint)):
                found.append(path)
        return found

    def _check(self, path: str, name: str, hint: re.Pattern[str]) -> Callable[[], bool]:
        return lambda: self._defines(path, name, hint)

    def _defines(self, path: str, name: str, hint: re.Pattern[str]) -> bool:
        text = self.tree.read_text(path) or ""
        at = text.find(name)
        while at != -1:
            start = text.rfind("\n", 0, at) + 1
            end = text.find("\n", at)
            end = len(text) if end == -1 else end
            if hint.search(text, start, end):
                return True
            at = text.find(name, end)
        return False

    def definitions(self, name: str, *, in_files: list[str] | None = None) -> list[Located]:
        """Where ``name`` is defined (functions, methods, classes, types, top-level constants)."""
        if in_files is None:
            in_files = self.likely_definers(name, self.files_with([name])[name])
        paths = in_files
        found = []
        for path in paths:
            tags = self.tags(path)
            if tags is not None:
                found += [Located(path, tag) for tag in tags.defined(name)]
        return found

    def references(self, name: str, *, in_files: list[str] | None = None) -> list[Located]:
        """Where ``name`` is used: calls, instantiations, imports, type and value uses; whole-word text
        matches in files without a grammar."""
        paths = in_files if in_files is not None else self.files_with([name])[name]
        found: list[Located] = []
        word = re.compile(rf"(?<![\w$]){re.escape(name)}(?![\w$])")
        for path in paths:
            tags = self.tags(path)
            if tags is not None:
                found += [Located(path, tag) for tag in tags.references if tag.name == name]
                continue
            text = self.tree.read_text(path)
            for number, line in enumerate((text or "").split("\n"), start=1):
                if name in line and word.search(line):
                    found.append(Located(path, Tag(name, "reference", TEXT, number, number, number)))
        return found


def _encoded(text: str | None) -> bytes | None:
    return text.encode("utf-8") if text is not None else None
