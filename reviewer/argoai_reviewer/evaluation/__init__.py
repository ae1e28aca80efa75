"""Evaluation: ``argoai eval`` — review a dataset of cases with known bugs and score the findings.

A dataset is a directory of cases (:mod:`.dataset`); each case is reviewed by the same code path as
``argoai review`` (:mod:`argoai_reviewer.local`: snapshot at head, related code, the policy's settings), its
findings are matched to the case's golden comments (:mod:`.matching`, with an LLM judge for golden comments
without a location, :mod:`.judge`), and scored (:mod:`.scoring`). :mod:`.runner` runs the cases of one or
more variants (policy, model, prompt directory) so two setups can be compared on the same cases.
"""
