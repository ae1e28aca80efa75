"""What the index learns about one file content, kept per process and shared by every snapshot.

Keyed by the content's digest, so a file unchanged between two heads of a pull request (or shared by two
repositories) is tokenized and parsed once. Two least-recently-used maps, bounded in entries:

* the identifiers a content holds, as a sorted ``array`` of integer ids (a few bytes per identifier; the ids
  come from one process-wide vocabulary, cleared with the map when it grows past its bound);
* the tags tree-sitter found in it (kept for fewer files: only the files a review actually parses).

Safe to use from several threads (the review runs index work in worker threads).
"""

from __future__ import annotations

import re
import threading
from array import array
from bisect import bisect_left
from collections import OrderedDict
from collections.abc import Callable, Iterable

from argoai_reviewer.index.tags import FileTags, extract_tags

IDENTIFIER = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")
MIN_IDENTIFIER = 2
MAX_VOCABULARY = 2_000_000


def identifiers(text: str) -> set[str]:
    """The distinct identifiers of ``text`` (letters, digits, ``_`` and ``$``; at least two characters)."""
    return {word for word in IDENTIFIER.findall(text) if len(word) >= MIN_IDENTIFIER}


def holds(ids: array[int], token: int) -> bool:
    """Whether the sorted id array ``ids`` holds ``token``."""
    at = bisect_left(ids, token)
    return at < len(ids) and ids[at] == token


class IndexCache:
    """Identifier ids and tags per content digest (see the module docstring)."""

    def __init__(self, *, max_files: int = 200_000, max_tagged: int = 20_000) -> None:
        self.max_files = max_files
        self.max_tagged = max_tagged
        self._lock = threading.Lock()
        self._vocabulary: dict[str, int] = {}
        self._tokens: OrderedDict[str, array[int]] = OrderedDict()
        self._tags: OrderedDict[tuple[str, str], FileTags] = OrderedDict()
        self._defines: OrderedDict[tuple[str, str], bool] = OrderedDict()
        self.tokenized = 0
        self.parsed = 0
        # Bumped when the vocabulary starts afresh: id arrays of an older generation mean nothing.
        self.generation = 0

    def token_id(self, name: str) -> int | None:
        """The id of identifier ``name``, or None when no content seen holds it."""
        return self._vocabulary.get(name)

    def tokens(self, digest: str, text: Callable[[], str | None]) -> array[int]:
        """The identifier ids of the content ``digest`` (``text`` reads it when not cached)."""
        with self._lock:
            known = self._tokens.get(digest)
            if known is not None:
                self._tokens.move_to_end(digest)
                return known
        content = text()
        words = identifiers(content) if content is not None else set()
        with self._lock:
            if len(self._vocabulary) + len(words) > MAX_VOCABULARY:
                # Ids are only meaningful with the vocabulary that made them: start both afresh.
                self._vocabulary.clear()
                self._tokens.clear()
                self.generation += 1
            ids = array("I", sorted(self._id(word) for word in words))
            self._tokens[digest] = ids
            while len(self._tokens) > self.max_files:
                self._tokens.popitem(last=False)
            self.tokenized += 1
            return ids

    def _id(self, word: str) -> int:
        known = self._vocabulary.get(word)
        if known is None:
            known = self._vocabulary[word] = len(self._vocabulary)
        return known

    def ids_of(self, names: Iterable[str]) -> dict[str, int]:
        """The ids of those ``names`` some content holds."""
        with self._lock:
            return {name: self._vocabulary[name] for name in names if name in self._vocabulary}

    def may_define(self, digest: str, name: str, check: Callable[[], bool]) -> bool:
        """Whether content ``digest`` looks like it defines ``name`` (``check`` decides when not cached)."""
        key = (digest, name)
        with self._lock:
            known = self._defines.get(key)
            if known is not None:
                return known
        answer = check()
        with self._lock:
            self._defines[key] = answer
            while len(self._defines) > self.max_files:
                self._defines.popitem(last=False)
        return answer

    def tags(self, digest: str, language: str, data: Callable[[], bytes | None]) -> FileTags:
        """The tags of the content ``digest`` parsed as ``language`` (``data`` reads it when not cached)."""
        key = (digest, language)
        with self._lock:
            known = self._tags.get(key)
            if known is not None:
                self._tags.move_to_end(key)
                return known
        source = data()
        tags = extract_tags(language, source) if source is not None else FileTags()
        with self._lock:
            self._tags[key] = tags
            while len(self._tags) > self.max_tagged:
                self._tags.popitem(last=False)
            self.parsed += 1
        return tags
