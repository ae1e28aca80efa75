"""LLM: the provider-agnostic half of the model adapters.

The structured-output loop (transient retries, asking again for valid output, metrics, spans), the schema
sent to the model, retry policy, the time limits of a call (idle timeout between streamed chunks, overall
cap, time to first token) and the process-wide concurrency limit. Implements
:class:`~argoai_reviewer.analysis.model.ReviewModel`; the SDK halves live in ``adapters/llm_*``.
"""
