"""The audit history's read side and the dead letters: the SQLite query store built from the history stream,
the queries ``argoai history`` and ``argoai api`` answer, the read-only HTTP API, and what
``argoai dlq`` does with dead letters. Nothing here is on the review path.
"""
