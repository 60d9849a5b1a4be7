"""Recall and precision of ``knowledge.redaction`` per kind on a labelled JSONL set.

Each line: ``{"text": "...", "lang": "de", "spans": [{"start": 6, "end": 19, "kind": "name"}]}``
(offsets into ``text``, end exclusive). A finding matches an expected span of the same kind when
they overlap; each expected span is matched at most once. Run
``python -m knowledge.redaction_eval --dataset knowledge/sample/eval/pii.jsonl [--json]`` or
``lotse eval pii --dataset FILE [--json]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from knowledge.redaction import KINDS, Kind, Span, find_pii
from models.errors import InvalidInput


class LabelledSpan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: int = Field(ge=0)
    end: int = Field(gt=0)
    kind: Kind


class LabelledSnippet(BaseModel):
    model_config = ConfigDict(extra="ignore")

    text: str
    lang: str = "und"
    spans: list[LabelledSpan] = Field(default_factory=list)


@dataclass
class KindScore:
    expected: int = 0
    found: int = 0
    true_positives: int = 0  # expected spans that were found
    correct_findings: int = 0  # findings that match an expected span

    @property
    def recall(self) -> float:
        return self.true_positives / self.expected if self.expected else 1.0

    @property
    def precision(self) -> float:
        return self.correct_findings / self.found if self.found else 1.0


@dataclass
class PiiReport:
    snippets: int = 0
    kinds: dict[str, KindScore] = field(default_factory=dict)
    misses: list[tuple[int, str, str]] = field(default_factory=list)  # line, kind, expected text
    false_alarms: list[tuple[int, str, str]] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "snippets": self.snippets,
            "kinds": {
                kind: {
                    "expected": s.expected,
                    "found": s.found,
                    "recall": round(s.recall, 4),
                    "precision": round(s.precision, 4),
                }
                for kind, s in self.kinds.items()
            },
            "misses": [{"line": n, "kind": k, "text": t} for n, k, t in self.misses],
            "false_alarms": [{"line": n, "kind": k, "text": t} for n, k, t in self.false_alarms],
        }


def load_dataset(path: Path) -> list[LabelledSnippet]:
    if not path.is_file():
        raise InvalidInput(f"{path} does not exist", field="dataset")
    snippets = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            snippet = LabelledSnippet.model_validate_json(line)
        except ValidationError as exc:
            raise InvalidInput(f"{path}:{number}: not a labelled snippet: {exc}") from exc
        if any(s.end > len(snippet.text) or s.start >= s.end for s in snippet.spans):
            raise InvalidInput(f"{path}:{number}: a span lies outside the text")
        snippets.append(snippet)
    return snippets


def _overlaps(a: Span | LabelledSpan, b: Span | LabelledSpan) -> bool:
    return a.start < b.end and b.start < a.end


def evaluate(snippets: list[LabelledSnippet]) -> PiiReport:
    report = PiiReport(snippets=len(snippets), kinds={k: KindScore() for k in KINDS})
    for number, snippet in enumerate(snippets, 1):
        found = find_pii(snippet.text)
        matched: set[int] = set()
        for expected in snippet.spans:
            score = report.kinds[expected.kind]
            score.expected += 1
            hit = next(
                (
                    i
                    for i, f in enumerate(found)
                    if i not in matched and f.kind == expected.kind and _overlaps(f, expected)
                ),
                None,
            )
            if hit is None:
                text = snippet.text[expected.start : expected.end]
                report.misses.append((number, expected.kind, text))
            else:
                matched.add(hit)
                score.true_positives += 1
        for i, finding in enumerate(found):
            score = report.kinds[finding.kind]
            score.found += 1
            if i in matched or any(
                e.kind == finding.kind and _overlaps(finding, e) for e in snippet.spans
            ):
                score.correct_findings += 1
            else:
                text = snippet.text[finding.start : finding.end]
                report.false_alarms.append((number, finding.kind, text))
    report.kinds = {k: s for k, s in report.kinds.items() if s.expected or s.found}
    return report


def format_report(report: PiiReport) -> str:
    lines = [
        f"{report.snippets} snippets",
        f"{'kind':<12} {'expected':>8} {'recall':>7} {'prec.':>7}",
    ]
    for kind, s in report.kinds.items():
        lines.append(f"{kind:<12} {s.expected:>8} {s.recall:>7.1%} {s.precision:>7.1%}")
    for number, kind, text in report.misses:
        lines.append(f"  missed  line {number} {kind}: {text!r}")
    for number, kind, text in report.false_alarms:
        lines.append(f"  extra   line {number} {kind}: {text!r}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dataset", type=Path, required=True)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        report = evaluate(load_dataset(args.dataset))
    except InvalidInput as exc:
        sys.stderr.write(f"error: {exc.message}\n")
        return 1
    text = json.dumps(report.as_dict(), ensure_ascii=False, indent=2) if args.json else None
    sys.stdout.write((text or format_report(report)) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
