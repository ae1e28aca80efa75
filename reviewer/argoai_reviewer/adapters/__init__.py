"""Adapters: the reviewer's only modules importing githubkit, openai, anthropic, redis or nats."""
