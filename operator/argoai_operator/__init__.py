"""The ArgoAI operator: turns ReviewPolicy resources into the effective policy set every reviewer follows.

Kopf drives it (``handlers.py``, thin); the logic is in small modules: ``validation`` (spec → PolicySpec),
``effective`` (index → PolicySet), ``status`` (conditions), ``publishing`` (one publish at a time to the KV
bucket), ``errors`` (the one mapping of ArgoAI errors to Kopf's), ``main`` (settings and the Kopf loop).
"""
