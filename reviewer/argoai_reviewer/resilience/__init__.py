"""Riding out outages of the LLM and of GitHub: circuit breakers shared by every pod (state in Redis through
the :class:`~argoai_reviewer.resilience.breaker.BreakerStore` Protocol owned here), and the wait of a review
whose dependency is down. May use only ``domain``, ``metrics`` and ``settings``."""
