"""The fake LLM's default responder reads the prompt exactly as the reviewer renders it."""

from __future__ import annotations

from argoai_reviewer.analysis.context import build_batches
from argoai_reviewer.analysis.diff import parse_patch
from argoai_reviewer.analysis.tokens import EstimateCounter
from support.fake_llm import MarkerResponder

PATCH = """@@ -1,4 +1,5 @@
 import os
-def load(path):
+def load(path):  # FIXME-BUG no error handling
     with open(path) as f:
-        return f.read()
+        data = f.read()
+        return data  # FIXME-BUG added
@@ -40,2 +41,2 @@ def other():
     keep = 1  # FIXME-BUG in context
-    x = 2
+    x = 3
"""


def test_marker_findings_cite_lines_of_the_rendered_prompt() -> None:
    """Each marked line of a prompt built by analysis.context is cited by path, new line and code."""
    diff = parse_patch("src/loader.py", PATCH)
    plan = build_batches([diff], {}, counter=EstimateCounter())
    prompt = "\n\n".join(batch.text for batch in plan.batches)

    findings = MarkerResponder().findings(prompt)
    added_only = MarkerResponder(added_only=True).findings(prompt)

    cited = [(f.path, f.start_line, f.quote) for f in findings]
    assert cited == [
        ("src/loader.py", 2, "def load(path):  # FIXME-BUG no error handling"),
        ("src/loader.py", 5, "        return data  # FIXME-BUG added"),
        ("src/loader.py", 41, "    keep = 1  # FIXME-BUG in context"),
    ]
    for _, line, quote in cited:
        assert diff.new_text(line) == quote
    assert [f.start_line for f in added_only] == [2, 5]
