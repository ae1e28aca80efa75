"""Conversation: one pull request's review on GitHub, from a job to exactly one posted review.

The pipeline (policy, locks, incremental scope, fencing, posting), rendering and the hidden markers that make
posting idempotent, comment commands, the failure comment, repository settings, accounting. Talks to GitHub,
Redis and the policy source only through the Protocols of :mod:`~argoai_reviewer.conversation.ports`; uses
``analysis`` for the review itself.

Subpackages: ``commands`` (grammar, trust, runner), ``answers`` (questions to the model, answered in the
thread or the conversation they were asked in), ``summary`` (the living summary comment and its
walkthrough), ``feedback`` (rejections and addressed findings), ``repo_config`` (``.github/argoai.yaml``). The
modules at this level are the pipeline and what every part shares: ``ports``, ``record``, ``state``,
``markers``, ``replies``, ``render``.
"""
