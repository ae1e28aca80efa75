"""Bearer tokens of ``argoai api``: every request to ``/api/v1/*`` must carry one of the configured tokens.

Compared in constant time (``hmac.compare_digest`` against every token, no early exit), so the time taken
says nothing about how much of a token matched. Tokens are never logged: a refusal logs only that it happened.
"""

from __future__ import annotations

import hmac


class BearerTokens:
    """The accepted tokens."""

    def __init__(self, tokens: list[bytes]) -> None:
        self._tokens = list(tokens)

    def accepts(self, header: str | None) -> bool:
        """Whether an ``Authorization`` header value carries an accepted bearer token."""
        if not header:
            return False
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return False
        given = token.strip().encode()
        matched = False
        for accepted in self._tokens:
            matched |= hmac.compare_digest(given, accepted)
        return matched
