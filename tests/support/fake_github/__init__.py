"""A fake GitHub that behaves like GitHub for an App: real HTTP, JWT and token checks, limits, 422s.

See ``server.py`` for how to run it, ``state.py`` for set-up and inspection, ``api.py`` for the endpoints.
"""

from support.fake_github.server import AppCredentials, FakeGitHub, RemoteFakeGitHub
from support.fake_github.state import FakeFile, LoggedRequest, PostedComment, PostedReview

__all__ = [
    "AppCredentials",
    "FakeFile",
    "FakeGitHub",
    "LoggedRequest",
    "PostedComment",
    "PostedReview",
    "RemoteFakeGitHub",
]
