"""Analysis: what the model sees of a change and how its findings are placed on the diff.

File selection, diff parsing, token budgets and batches, prompt rendering, the built-in checks, anchoring of
findings on diff lines, fingerprints. Pure computation over a change: no GitHub, no queue, no I/O but the
model it is given (:class:`~argoai_reviewer.analysis.model.ReviewModel`, a Protocol it owns). May use only the
shared base modules (``domain``, ``metrics``, ``settings``) and ``argoai_core``.
"""
