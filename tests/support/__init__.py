"""Helpers shared by the test suite: real servers, signed webhooks, fakes of GitHub and the LLM."""
