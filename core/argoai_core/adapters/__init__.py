"""Adapters: the only modules that import client libraries (nats-py, redis-py, githubkit, openai, anthropic)."""
