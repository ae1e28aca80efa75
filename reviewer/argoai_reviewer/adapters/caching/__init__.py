"""Caches in front of the paid and rate-limited services, in Redis and in the process.

* :mod:`.llm_replies`: the store of the LLM response cache (:mod:`argoai_reviewer.llm.cache`).
* :mod:`.etags` and :mod:`.conditional`: GitHub GETs revalidated with ``If-None-Match`` (a 304 is free of
  the installation's rate limit), the ETags and bodies kept in Redis per installation.
* :mod:`.coalescing`: identical GETs in flight at once in one process share one request.

The two GitHub layers are httpx transports stacked under githubkit, as Prow's ghproxy stacks its caches:
coalescing outermost, then the conditional cache, then the network.
"""
