"""Agent mode: read-only tools the model may call over the repository snapshot at the reviewed head.

:mod:`.calls` holds the plain data the LLM loop and the tools exchange (a tool's spec, a call, its result);
:mod:`.tools` the tools themselves (read a file range, search text or a regular expression, find definitions,
find references, list a directory) over a :class:`~argoai_reviewer.workspace.snapshot.Snapshot` and its
:class:`~argoai_reviewer.index.code_index.CodeIndex`; :mod:`.budget` the per-review bounds (rounds, tool
calls, tokens, wall time); :mod:`.toolbox` runs a round of calls within the budget and returns results
redacted and fenced. Every path and argument is checked: a path outside the snapshot (``..``, absolute, a
symlink pointing out, ``.git/``) or a bad argument is an error result the model reads, never a crash and
never content from outside. Nothing is written and nothing from the repository is executed. Uses only
``workspace``, ``index``, the shared base modules and ``argoai_core``.
"""
