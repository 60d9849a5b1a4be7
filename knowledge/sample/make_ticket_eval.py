"""Build ``eval/replies.jsonl`` for ``lotse eval replies`` from ``tickets.csv``.

Two sample tickets have "the same solution" when the service desk answered them with the same
text block (``sources/tickets/answers.py``): the resolution minus its greeting line and its
closing and signature lines. Every solved ticket whose solution is shared with at least one
other becomes a case; its ``expected`` ids are those other tickets, and its own id is excluded
from its similar tickets at evaluation time.

Usage: ``python knowledge/sample/make_ticket_eval.py``
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE / "tickets.csv"
OUT = HERE / "eval" / "replies.jsonl"


def solution_core(answer: str) -> str:
    lines = [line.strip() for line in answer.strip().splitlines()]
    return " ".join(lines[1:-2]).strip()  # hello / text... / bye / agent, desk


def main() -> int:
    with SOURCE.open(encoding="utf-8", newline="") as handle:
        rows = [r for r in csv.DictReader(handle) if r["answer"].strip()]
    groups: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        groups[solution_core(row["answer"])].append(row["id"])
    cases = []
    for row in rows:
        same = [i for i in groups[solution_core(row["answer"])] if i != row["id"]]
        if same:
            cases.append(
                {
                    "ticket_id": row["id"],
                    "subject": row["subject"],
                    "body": row["body"],
                    "language": row["language"],
                    "expected": same,
                }
            )
    with OUT.open("w", encoding="utf-8") as handle:
        for case in cases:
            handle.write(json.dumps(case, ensure_ascii=False) + "\n")
    print(f"{len(cases)} cases from {len(rows)} solved tickets -> {OUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
