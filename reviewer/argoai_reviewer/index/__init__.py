"""Index: which code defines and which code uses a name, across a repository's files at one commit.

:mod:`.tags` runs tree-sitter tag queries (``queries/*.scm``, tags.scm-style) over Python, JavaScript,
TypeScript/TSX, Go and Java; :mod:`.code_index` answers "find definitions" and "find references" over a
:class:`~.tree.SourceTree` (a Protocol the workspace's snapshots implement), looking only at files that
contain the name (an identifier index) and parsing each file content once per process (cached by content
digest, so the next head of a pull request re-parses only what changed). Files of other languages fall back
to identifier text search. Nothing is executed; parsing is pure. Uses only ``metrics`` and ``argoai_core``.
"""
