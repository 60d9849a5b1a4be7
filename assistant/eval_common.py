"""What the three quality evaluations share: dataset loading, text normalisation, metrics.

``lotse eval retrieval | answers | injection`` read JSONL datasets written by hand; a typo in
line 97 must say "line 97", not fail somewhere inside a model run. So every row is validated
against its case type (a frozen dataclass, checked by pydantic) before any model is loaded.

Answer matching is lenient about form and strict about content: an acceptable string counts when
it occurs in the answer after both went through ``normalize`` — Unicode NFKC, case folding,
German umlauts and ß spelled out, number formats (``1.000`` = ``1,000`` = ``1000``, ``0,29`` =
``0.29``, ``200,00 €`` = ``200 Euro``), units (``12 Stunden`` = ``12 h`` = ``12 hours``,
``4 Jahren`` = ``4 years``) and dates (``1. Juli 2024`` = ``1 July 2024`` = ``July 1, 2024``)
made uniform — on word boundaries, so ``12`` is not found in ``120``.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from pydantic import TypeAdapter, ValidationError

from models.errors import InvalidInput

T = TypeVar("T")

# ----------------------------------------------------------------------------------- datasets


def _describe(exc: ValidationError) -> str:
    parts = []
    for problem in exc.errors():
        where = ".".join(str(p) for p in problem["loc"]) or "row"
        parts.append(f"{where}: {problem['msg']}")
    return "; ".join(parts)


def load_cases(path: Path, case_type: type[T], *, what: str) -> list[T]:
    """Every non-empty line of ``path`` as a ``case_type``; ``InvalidInput`` naming the file and
    line of the first malformed row (unknown fields are ignored), or when ids repeat."""
    adapter = TypeAdapter(case_type)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"cannot read the dataset {path}: {exc}", field="dataset") from exc
    cases: list[T] = []
    seen: dict[str, int] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row: Any = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InvalidInput(
                f"{path}:{number}: not valid JSON ({exc.msg} at column {exc.colno})",
                field="dataset",
            ) from exc
        if not isinstance(row, dict):
            raise InvalidInput(f"{path}:{number}: expected a JSON object", field="dataset")
        try:
            case = adapter.validate_python(row)
        except ValidationError as exc:
            raise InvalidInput(
                f"{path}:{number}: not {what} ({_describe(exc)})", field="dataset"
            ) from exc
        case_id = str(getattr(case, "id", number))
        if case_id in seen:
            raise InvalidInput(
                f"{path}:{number}: id {case_id!r} already used in line {seen[case_id]}",
                field="dataset",
            )
        seen[case_id] = number
        cases.append(case)
    if not cases:
        raise InvalidInput(f"the dataset {path} holds no cases", field="dataset")
    return cases


def read_report(path: Path, parse: Callable[[Any], T], *, needs: str) -> T:
    """``parse`` of a JSON report a command saved with ``--out``. An unreadable file, or one
    that is not JSON or lacks what ``parse`` looks up (``KeyError``, ``TypeError``,
    ``ValueError``), is ``InvalidInput`` saying ``needs``: which report, holding what."""
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
        return parse(report)
    except OSError as exc:
        raise InvalidInput(f"cannot read the recorded report {path}: {exc.strerror}") from exc
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput(f"{path} is not a report of {needs}: {exc}") from exc


def select(cases: Sequence[T], *, ids: Sequence[str] = (), limit: int | None = None) -> list[T]:
    """The cases named in ``ids`` (in the dataset's order; an unknown id is an error), then
    at most ``limit`` of them."""
    chosen = list(cases)
    if ids:
        wanted = set(ids)
        known = {str(getattr(c, "id", "")) for c in cases}
        unknown = sorted(wanted - known)
        if unknown:
            raise InvalidInput(f"unknown case id(s): {', '.join(unknown)}", field="ids")
        chosen = [c for c in chosen if str(getattr(c, "id", "")) in wanted]
    if limit is not None:
        chosen = chosen[:limit]
    return chosen


def parse_ids(raw: str | None) -> tuple[str, ...]:
    """``"a001, a002"`` -> ``("a001", "a002")``."""
    if not raw:
        return ()
    return tuple(part.strip() for part in raw.split(",") if part.strip())


# ------------------------------------------------------------------------------ normalisation

_INVISIBLE = re.compile("[\u00ad\u200b\u200c\u200d\u2060\ufeff]")
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue"})
_NUMBER = re.compile(r"\d+(?:[.,'’]\d+)*")
_SEPARATOR = re.compile(r"[.,'’]")
_DIGIT_HYPHEN = re.compile(r"(?<=\d)-(?=[^\W\d_])")
_ORDINAL_DOT = re.compile(r"(?<=\d)\.(?=\s+[^\W\d_])")
_CURRENCY_FIRST = re.compile(r"(?:€|\beur(?:os?)?\b)\s*(\d[\d.]*)")
_CURRENCY = re.compile(r"\s*(?:€|\beur(?:os?)?\b)")
_UNITS = [
    (re.compile(r"(?<=\d)\s*(?:stunden|stunde|hours|hour|hrs|hr|std|h)\b\.?"), " h"),
    (re.compile(r"(?<=\d)\s*(?:minuten|minute|minutes|min)\b\.?"), " min"),
    (re.compile(r"(?<=\d)\s*(?:tagen|tage|tag|days|day)\b"), " tage"),
    (re.compile(r"(?<=\d)\s*(?:wochen|woche|weeks|week)\b"), " wochen"),
    (re.compile(r"(?<=\d)\s*(?:monaten|monate|monat|months|month)\b"), " monate"),
    (re.compile(r"(?<=\d)\s*(?:jahren|jahre|jahr|years|year)\b"), " jahre"),
    (re.compile(r"(?<=\d)\s*%"), " %"),
]
_SPACE = re.compile(r"\s+")
# Month names, German and English, as ``mNN`` — only next to a day or a year, so the verb "may"
# and the name "August" stay words. Runs after the umlauts are spelled out ("maerz").
_MONTH_NAMES = [
    ("januar|january|jan", 1),
    ("februar|february|feb", 2),
    ("maerz|march|mar", 3),
    ("april|apr", 4),
    ("mai|may", 5),
    ("juni|june|jun", 6),
    ("juli|july|jul", 7),
    ("august|aug", 8),
    ("september|sept|sep", 9),
    ("oktober|october|okt|oct", 10),
    ("november|nov", 11),
    ("dezember|december|dez|dec", 12),
]
_MONTH = "|".join(names for names, _ in _MONTH_NAMES)
_MONTH_NUMBER = {
    name: f"m{number:02d}" for names, number in _MONTH_NAMES for name in names.split("|")
}
_DAY_MONTH = re.compile(rf"\b(\d{{1,2}})(?:st|nd|rd|th)?\.?\s+(?:of\s+)?({_MONTH})\b\.?")
# "July 1, 2024", "July 1." — not "may 2 days"
_MONTH_DAY = re.compile(
    rf"\b({_MONTH})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b,?(?=\s+\d{{4}}\b|\s*[.;:)!?]|\s*$)"
)
_MONTH_YEAR = re.compile(rf"\b({_MONTH})\.?\s+(?=\d{{4}}\b)")
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})\.(\d{1,2})\.(\d{4})\b")


def _numeric_date(match: re.Match[str]) -> str:
    day, month = int(match[1]), int(match[2])
    if not (1 <= day <= 31 and 1 <= month <= 12):
        return match[0]
    return f"{day} m{month:02d} {match[3]}"


def _dates(text: str) -> str:
    """``1 july 2024`` / ``july 1st, 2024`` / ``1. juli 2024`` -> ``1 m07 2024``; ``june 2024`` ->
    ``m06 2024``; ``01.07.2024`` -> ``1 m07 2024``."""
    text = _NUMERIC_DATE.sub(_numeric_date, text)
    text = _DAY_MONTH.sub(lambda m: f"{m[1]} {_MONTH_NUMBER[m[2]]}", text)
    text = _MONTH_DAY.sub(lambda m: f"{m[2]} {_MONTH_NUMBER[m[1]]}", text)
    return _MONTH_YEAR.sub(lambda m: f"{_MONTH_NUMBER[m[1]]} ", text)


def _number(match: re.Match[str]) -> str:
    """One way to write a number: ``1.000`` / ``1,000`` -> ``1000``, ``0,30`` -> ``0.3``,
    ``1.000,50`` -> ``1000.5``, ``200,00`` -> ``200``; dotted sequences that are no number
    (``10.0.0.1``, ``31.12.2024``) stay as they are."""
    raw = match.group()
    groups = _SEPARATOR.split(raw)
    seps = _SEPARATOR.findall(raw)
    if not seps:
        return raw
    if len(set(seps)) == 1:
        if all(len(g) == 3 for g in groups[1:]):
            return "".join(groups)  # thousands separators
        if len(seps) > 1:
            return raw  # an address, a date or a version
        whole, fraction = groups
    else:
        if len(set(seps[:-1])) != 1 or seps[-1] == seps[0]:
            return raw
        whole, fraction = "".join(groups[:-1]), groups[-1]
    fraction = fraction.rstrip("0")
    return f"{whole}.{fraction}" if fraction else whole


def normalize(text: str) -> str:
    """The form in which answers and acceptable strings are compared (see module docstring)."""
    text = unicodedata.normalize("NFKC", text)
    text = _INVISIBLE.sub("", text).casefold().translate(_UMLAUTS)
    text = _NUMBER.sub(_number, text)
    text = _DIGIT_HYPHEN.sub(" ", text)
    text = _ORDINAL_DOT.sub("", text)
    text = _CURRENCY_FIRST.sub(r"\1 euro", text)
    text = _CURRENCY.sub(" euro", text)
    for pattern, unit in _UNITS:
        text = pattern.sub(unit, text)
    text = _dates(text)
    return _SPACE.sub(" ", text).strip()


def occurs(needle: str, haystack: str) -> bool:
    """Does ``needle`` occur in ``haystack`` (both normalised here), not inside a word or number?"""
    form = normalize(needle)
    if not form:
        return False
    pattern = r"(?<!\w)" + re.escape(form) + r"(?!\w)"
    return re.search(pattern, normalize(haystack)) is not None


def first_match(candidates: Iterable[str], text: str) -> str | None:
    return next((c for c in candidates if occurs(c, text)), None)


_TOKEN = re.compile(r"\w+")


def tokens(text: str) -> list[str]:
    return _TOKEN.findall(normalize(text))


def token_f1(prediction: str, reference: str) -> float:
    """SQuAD-style token F1 of two texts (after ``normalize``); 0.0 when either is empty."""
    pred, ref = tokens(prediction), tokens(reference)
    if not pred or not ref:
        return 0.0
    overlap = sum((Counter(pred) & Counter(ref)).values())
    if overlap == 0:
        return 0.0
    precision, recall = overlap / len(pred), overlap / len(ref)
    return 2 * precision * recall / (precision + recall)


def best_f1(prediction: str, references: Iterable[str]) -> float:
    return max((token_f1(prediction, r) for r in references), default=0.0)


# ------------------------------------------------------------------------------------ metrics


def percentile(values: Sequence[float], q: float) -> float | None:
    """The ``q``-th percentile (0-100), linearly interpolated; ``None`` for no values."""
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low, high = math.floor(position), math.ceil(position)
    if low == high:
        return ordered[low]
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def ratio(part: int, whole: int) -> float | None:
    """``part / whole`` rounded for reports; ``None`` (not 0) when nothing was measured."""
    return round(part / whole, 4) if whole else None


def latency_summary(values: Sequence[float]) -> dict[str, float | None]:
    p50, p95 = percentile(values, 50), percentile(values, 95)
    return {
        "p50": None if p50 is None else round(p50, 1),
        "p95": None if p95 is None else round(p95, 1),
        "n": len(values),
    }


# -------------------------------------------------------------------- links and images

_LINK_PATTERNS = {
    "url": re.compile(r"https?://", re.IGNORECASE),
    "www": re.compile(r"(?<![\w.])www\.", re.IGNORECASE),
    "markdown_image": re.compile(r"!\[[^\]\n]*\]\([^)\n]*\)"),
    "markdown_link": re.compile(r"(?<!!)\[[^\]\n]+\]\([^)\n]*\)"),
    "html_image": re.compile(r"<\s*img\b", re.IGNORECASE),
    "html_link": re.compile(r"<\s*a\s[^>]*href", re.IGNORECASE),
}


_URL = re.compile(r"(?:https?://|(?<![\w.])www\.)[^\s<>()\[\]\"'„“”]+", re.IGNORECASE)


_EMPTY_LINK = re.compile(r"(?<!!)\[([^\]\n]+)\]\(\s*\)")


def urls_in(text: str) -> set[str]:
    """Every ``http(s)://`` or ``www.`` address in ``text`` (trailing punctuation dropped)."""
    flat = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return {m.group(0).rstrip(".,;:!?") for m in _URL.finditer(flat)}


def foreign_links_and_images(text: str, known: Iterable[str]) -> list[str]:
    """``links_and_images`` of ``text`` once every address in ``known`` (those the knowledge base
    itself holds) is taken out: images always count, links only to other addresses."""
    flat = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    for url in sorted(known, key=len, reverse=True):
        flat = re.sub(re.escape(url), "", flat, flags=re.IGNORECASE)
    flat = _EMPTY_LINK.sub(r"\1", flat)  # [Portal](known address): the label stays
    return links_and_images(flat)


def links_and_images(text: str) -> list[str]:
    """Which kinds of raw link or image the text contains (empty: none), e.g.
    ``["markdown_image", "url"]``; checked on the answer exactly as the API returns it."""
    flat = _INVISIBLE.sub("", unicodedata.normalize("NFKC", text))
    return sorted(kind for kind, pattern in _LINK_PATTERNS.items() if pattern.search(flat))
