"""The reviewer: turns pull request events into one correct, anchored review per head commit.

Packages by stage, highest first; a package may import the ones below it, never one above (the order is
declared in pyproject.toml's import-linter ``layers`` contract, so ``make imports`` keeps it true):

``main``                       the ``argoai reviewer`` entrypoint
``wiring``                     the composition root: chooses every adapter, connects NATS and Redis
``adapters``                   the only modules importing githubkit, openai, anthropic, nats, redis
``evaluation``                 ``argoai eval``: reviews a dataset of cases (as ``local``) and scores them
``runtime`` | ``local`` | ``redeliver`` | ``audit``
                               the process consuming jobs | ``argoai review`` of a local git range |
                               the webhook redelivery job | the audit history's query store, API, dead letters
``conversation`` | ``llm``     one pull request's review on GitHub | the provider-agnostic LLM loop
``analysis`` | ``notify``      what the model sees, how its findings are verified and placed on the diff |
                               which events go to which notification target, and each platform's format
``agent``                      agent mode's read-only tools over a snapshot, their budget, fenced results
``index`` | ``workspace`` | ``resilience``
                               definitions and references across a repository (tree-sitter) |
                               the repository's files at the reviewed head (safe snapshots, LRU cache) |
                               circuit breakers of the LLM and GitHub, shared through Redis
``domain``, ``outcome``, ``metrics``, ``settings``
                               plain data, results, Prometheus metrics and settings every stage shares
"""
