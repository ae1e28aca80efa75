"""Fixtures of the conversation tests: the fake GitHub and the fake LLM, one of each per test."""

from __future__ import annotations

from reviewer.conversation.world import fake, fake_llm

__all__ = ["fake", "fake_llm"]
