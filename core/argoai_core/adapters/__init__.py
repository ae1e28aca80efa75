"""Adapters: the only modules importing client libraries (nats-py, redis-py, githubkit, openai…)."""
