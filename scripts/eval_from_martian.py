"""Turn a Martian Code Review Bench golden-comment file into an ``argoai eval`` case.

The bench gives, per pull request, golden comments with ``comment`` and ``severity`` (Critical, High, Medium,
Low) and no place; the code lives in the pull request's repository. Clone that repository, fetch the pull
request's base and head (e.g. ``git fetch origin pull/N/head:head`` and the base branch as ``base``), then::

    python scripts/eval_from_martian.py GOLDEN.json --repo CLONE --base base --head head --out DATASET/NAME

writes ``DATASET/NAME/case.yaml`` pointing at the clone (``repository:``), with the golden comments copied as
they are (their severities are read as critical/major/minor/nit, and having no path they are matched by the
judge). For a self-contained case, ``git -C CLONE bundle create DATASET/NAME/repo.bundle base head`` and set
``repository: repo.bundle``. The golden file may be one pull request's object (with ``comments`` or
``golden_comments``) or a list of them (``--index`` picks one; default 0).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml


def _entry(data: Any, index: int) -> dict[str, Any]:
    if isinstance(data, list):
        if not 0 <= index < len(data):
            held = len(data)
            raise SystemExit(f"eval_from_martian: --index {index}: the file holds {held} pull request(s)")
        data = data[index]
    if not isinstance(data, dict):
        raise SystemExit("eval_from_martian: expected an object (or a list of objects) with golden comments")
    return data


def convert(data: Any, *, index: int, repo: Path, base: str, head: str) -> dict[str, Any]:
    """The ``case.yaml`` contents for one pull request of a golden-comment file."""
    entry = _entry(data, index)
    comments = entry.get("comments", entry.get("golden_comments"))
    if not isinstance(comments, list):
        raise SystemExit("eval_from_martian: no `comments` (or `golden_comments`) list in the entry")
    golden = [
        {"comment": str(item["comment"]), "severity": str(item.get("severity", "High"))}
        for item in comments
        if isinstance(item, dict) and item.get("comment")
    ]
    title = str(entry.get("pr_title") or entry.get("title") or entry.get("url") or "Converted case")
    return {
        "title": title,
        "description": str(entry.get("url", "")),
        "kind": "converted",
        "repository": str(repo.resolve()),
        "base": base,
        "head": head,
        "golden": golden,
    }


def main(argv: list[str] | None = None) -> int:
    """Convert one pull request's golden comments; exit 2 on bad input."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("golden", type=Path, help="the bench's golden-comment JSON file")
    parser.add_argument("--index", type=int, default=0, help="which pull request of a list")
    parser.add_argument("--repo", type=Path, required=True, help="a clone holding the base and head refs")
    parser.add_argument("--base", required=True)
    parser.add_argument("--head", required=True)
    parser.add_argument("--out", type=Path, required=True, help="the case directory to write")
    args = parser.parse_args(argv)
    try:
        data = json.loads(args.golden.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        print(f"eval_from_martian: {args.golden}: {exc}", file=sys.stderr)
        return 2
    case = convert(data, index=args.index, repo=args.repo, base=args.base, head=args.head)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "case.yaml").write_text(yaml.safe_dump(case, sort_keys=False, allow_unicode=True))
    print(f"{args.out / 'case.yaml'}: {len(case['golden'])} golden comment(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
