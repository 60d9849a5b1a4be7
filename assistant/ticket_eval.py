"""``lotse eval triage`` and ``lotse eval replies``: how good agent assist is on your tickets.

* **Triage**: every solved ticket of a labelled export is triaged by its neighbours *without
  itself* (leave-one-out: the ticket is excluded from its own similar tickets), and the voted
  queue and priority are compared with the recorded ones. The baseline always answers the most
  frequent value of the other tickets: a vote that does not beat it is useless.
* **Replies**: for each row of a JSONL file ``{"subject", "body", "ticket_id"?, "expected":
  [ids]}`` — the tickets whose solution also solves this one — is one of them among the top 3
  similar tickets (``ticket_id``, the row's own ticket, is excluded)? ``knowledge/sample/
  make_ticket_eval.py`` builds such a file from tickets that share a solution text.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from assistant.ticket_assist import TicketAssistant, triage_of
from knowledge.tickets.model import Ticket
from models.errors import InvalidInput


@dataclass(frozen=True)
class FieldScore:
    n: int
    correct: int
    baseline_correct: int
    by_language: dict[str, tuple[int, int]] = field(default_factory=dict)  # lang -> (n, correct)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def baseline(self) -> float:
        return self.baseline_correct / self.n if self.n else 0.0

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "accuracy": round(self.accuracy, 4),
            "baseline": round(self.baseline, 4),
            "by_language": {
                lang: {"n": n, "accuracy": round(c / n, 4) if n else 0.0}
                for lang, (n, c) in sorted(self.by_language.items())
            },
        }


@dataclass(frozen=True)
class TriageReport:
    queue: FieldScore
    priority: FieldScore
    skipped: int  # tickets without a resolution or label

    def as_dict(self) -> dict[str, object]:
        return {
            "queue": self.queue.as_dict(),
            "priority": self.priority.as_dict(),
            "skipped": self.skipped,
        }


def _score(
    name: str, tickets: Sequence[Ticket], predicted: Sequence[str | None], all_values: Counter[str]
) -> FieldScore:
    n = correct = baseline = 0
    by_language: dict[str, tuple[int, int]] = {}
    for ticket, guess in zip(tickets, predicted, strict=True):
        truth = str(getattr(ticket, name))
        others = all_values.copy()
        others[truth] -= 1  # the baseline does not see the ticket either
        majority = max(sorted(others), key=lambda v: others[v]) if others else ""
        hit = guess == truth
        n += 1
        correct += hit
        baseline += majority == truth
        ln, lc = by_language.get(ticket.language, (0, 0))
        by_language[ticket.language] = (ln + 1, lc + hit)
    return FieldScore(n, correct, baseline, by_language)


def evaluate_triage(assist: TicketAssistant, tickets: Sequence[Ticket]) -> TriageReport:
    usable = [t for t in tickets if t.is_resolved and t.queue and t.priority]
    queues, priorities = [], []
    for ticket in usable:
        similar = assist.similar(
            f"{ticket.subject}\n{ticket.problem}", exclude={ticket.id}, k=assist.config.vote_k
        )
        triage = triage_of(similar)
        queues.append(triage.queue.value if triage.queue else None)
        priorities.append(triage.priority.value if triage.priority else None)
    return TriageReport(
        queue=_score("queue", usable, queues, Counter(t.queue for t in usable)),
        priority=_score("priority", usable, priorities, Counter(t.priority for t in usable)),
        skipped=len(tickets) - len(usable),
    )


@dataclass(frozen=True)
class ReplyCase:
    subject: str
    body: str
    expected: tuple[str, ...]
    ticket_id: str | None = None
    language: str = "und"


@dataclass(frozen=True)
class RepliesReport:
    n: int
    hits_at_1: int
    hits_at_3: int
    by_language: dict[str, tuple[int, int]] = field(default_factory=dict)  # lang -> (n, @3)

    def as_dict(self) -> dict[str, object]:
        return {
            "n": self.n,
            "hit_rate_at_1": round(self.hits_at_1 / self.n, 4) if self.n else 0.0,
            "hit_rate_at_3": round(self.hits_at_3 / self.n, 4) if self.n else 0.0,
            "by_language": {
                lang: {"n": n, "hit_rate_at_3": round(h / n, 4) if n else 0.0}
                for lang, (n, h) in sorted(self.by_language.items())
            },
        }


def load_reply_cases(path: Path) -> list[ReplyCase]:
    cases = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise InvalidInput(f"cannot read {path}: {exc}") from exc
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            cases.append(
                ReplyCase(
                    subject=str(row["subject"]),
                    body=str(row["body"]),
                    expected=tuple(str(x) for x in row["expected"]),
                    ticket_id=None if row.get("ticket_id") is None else str(row["ticket_id"]),
                    language=str(row.get("language", "und")),
                )
            )
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise InvalidInput(f"{path}:{number}: not a reply case ({exc})") from exc
    if not cases:
        raise InvalidInput(f"{path} holds no cases")
    return cases


def evaluate_replies(assist: TicketAssistant, cases: Sequence[ReplyCase]) -> RepliesReport:
    at1 = at3 = 0
    by_language: dict[str, tuple[int, int]] = {}
    for case in cases:
        exclude = {case.ticket_id} if case.ticket_id else set()
        found = [
            s.ticket_id
            for s in assist.similar(f"{case.subject}\n{case.body}", exclude=exclude, k=3)
        ]
        expected = set(case.expected)
        hit1 = bool(found[:1]) and found[0] in expected
        hit3 = any(t in expected for t in found[:3])
        at1 += hit1
        at3 += hit3
        n, h = by_language.get(case.language, (0, 0))
        by_language[case.language] = (n + 1, h + hit3)
    return RepliesReport(len(cases), at1, at3, by_language)
