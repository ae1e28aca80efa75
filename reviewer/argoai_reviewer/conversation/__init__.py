"""Conversation: one pull request's review on GitHub, from a job to exactly one posted review.

The pipeline (policy, locks, incremental scope, fencing, posting), rendering and the hidden markers that make
posting idempotent, comment commands, the failure comment, repository settings, accounting. Talks to GitHub,
Redis and the policy source only through the Protocols of :mod:`~argoai_reviewer.conversation.ports`; uses
``analysis`` for the review itself.
"""
