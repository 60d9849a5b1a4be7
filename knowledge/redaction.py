"""PII redaction of ticket text before it becomes employee-visible knowledge.

``redact(text)`` finds personal data and replaces each finding with a typed placeholder. One
scheme, language-neutral, the same in German and English text:

    [NAME]      names in greetings, signatures and after Frau/Herr/Mr/Mrs/Ms
    [EMAIL]     e-mail addresses
    [PHONE]     phone and fax numbers (German national, +49/0049 and other international forms,
                and numbers after Tel./Telefon/Mobil/phone/ext.)
    [IBAN]      IBANs whose mod-97 checksum is valid (with or without spaces)
    [IP]        IPv4 and IPv6 addresses
    [ADDRESS]   German street + house number, and PLZ + city
    [ID]        customer, contract, account and personnel numbers after their label
                ("Kundennummer 123456" -> "Kundennummer [ID]"; the label stays)
    [URL]       URLs whose query carries a token, key, secret, signature or password

The detectors are regular expressions plus validation (IBAN checksum, ``ipaddress``), tuned not
to touch ordinary service-desk text: version numbers ("Version 2.4.1"), room numbers
("Raum 3.12"), dates, times, error codes ("0x80070005") and plain URLs stay. Overlapping
findings keep the longest. Recall and precision per kind on the labelled set
``knowledge/sample/eval/pii.jsonl`` are measured by ``python -m knowledge.redaction_eval`` (see
docs/privacy.md).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

Kind = Literal["name", "email", "phone", "iban", "ip", "address", "customer_id", "url"]

KINDS: tuple[Kind, ...] = (
    "name",
    "email",
    "phone",
    "iban",
    "ip",
    "address",
    "customer_id",
    "url",
)

PLACEHOLDERS: dict[Kind, str] = {
    "name": "[NAME]",
    "email": "[EMAIL]",
    "phone": "[PHONE]",
    "iban": "[IBAN]",
    "ip": "[IP]",
    "address": "[ADDRESS]",
    "customer_id": "[ID]",
    "url": "[URL]",
}


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    kind: Kind


@dataclass(frozen=True)
class Redaction:
    text: str
    spans: tuple[Span, ...]  # offsets into the original text

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for span in self.spans:
            out[span.kind] = out.get(span.kind, 0) + 1
        return out


# -- patterns -----------------------------------------------------------------------------------
_UPPER = "A-ZÄÖÜ"
_LOWER = "a-zäöüßéèáàçñ"
_NAME_WORD = rf"[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}][{_LOWER}]+)?"
_NAME_PARTICLE = r"(?:von|van|de|der|zu)"
_FULL_NAME = rf"{_NAME_WORD}(?:[ \t]+(?:{_NAME_PARTICLE}[ \t]+)?{_NAME_WORD}){{0,2}}"

_EMAIL = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)

_SECRET_KEYS = (
    r"token|access_token|id_token|auth|key|apikey|api_key|secret|client_secret|sig|signature|"
    r"password|passwd|pwd|pass|code|session|sid|ticket|otp|jwt|x-amz-signature|x-amz-credential"
)
_URL = re.compile(r"\bhttps?://[^\s<>\"')\]]+", re.IGNORECASE)
_SECRET_QUERY = re.compile(rf"[?&#](?:{_SECRET_KEYS})=[^&\s]+", re.IGNORECASE)

_IBAN_CANDIDATE = re.compile(r"\b[A-Z]{2}\d{2}(?:[ ]?[A-Z0-9]){11,30}")
_IBAN_LENGTHS = {
    "AT": 20, "BE": 16, "CH": 21, "CZ": 24, "DE": 22, "DK": 18, "ES": 24, "FI": 18, "FR": 27,
    "GB": 22, "IE": 22, "IT": 27, "LI": 21, "LU": 20, "NL": 18, "NO": 15, "PL": 28, "PT": 25,
    "SE": 24, "SK": 24, "HU": 28,
}  # fmt: skip

_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?:/\d{{1,2}})?(?![\w.]*\d)")
_IPV6_CANDIDATE = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?![\w:])")
_VERSION_BEFORE = re.compile(r"(?:version|ver\.|v|build|release|firmware|update)\s*$", re.I)

_PHONE_LABEL = (
    r"(?:Tel\.?|Telefon|Tel\.-Nr\.?|Telefonnummer|Mobil|Mobilnummer|Handy|Handynummer|Fax|"
    r"Durchwahl|Rufnummer|phone|mobile|cell|ext\.|extension)"
)
_PHONE_INTL = r"(?:\+|00)[1-9]\d{0,2}(?:[ \-/.]?\(\d{1,5}\))?(?:[ \-/.]?\d{1,5}){1,6}"
_PHONE_NATIONAL = r"\(?0[1-9]\d{1,4}\)?[ \-/]?\d{2,8}(?:[ \-]\d{1,6}){0,2}"
_PHONE = re.compile(rf"(?<![\w+/.-])(?:{_PHONE_INTL}|{_PHONE_NATIONAL})(?![\w/])")
_PHONE_AFTER_LABEL = re.compile(
    rf"\b{_PHONE_LABEL}\s*(?:[:.]\s*)?(?:\+?\d[\d \-/()]{{2,20}}\d)", re.IGNORECASE
)

_STREET_SUFFIX = (
    r"(?:straße|strasse|str\.|weg|gasse|platz|allee|ring|damm|ufer|chaussee|steig|pfad|markt|"
    r"hof|berg|feld|park|kamp|wall|graben|deich|stieg)"
)
_STREET = re.compile(
    rf"\b(?:[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}]?[{_LOWER}]+)*{_STREET_SUFFIX}"
    rf"|[{_UPPER}][{_LOWER}]+(?:-[{_UPPER}][{_LOWER}]+)*[ -]"
    r"(?:Straße|Strasse|Str\.|Weg|Platz|Allee|Ring)"
    rf"|(?:Am|An der|An den|Auf dem|Auf der|Im|In der|Zum|Zur|Unter den|Hinter dem)"
    rf"\s+[{_UPPER}][{_LOWER}]+)"
    rf"\s+\d{{1,4}}(?:\s?[a-z])?(?:\s?-\s?\d{{1,4}})?\b"
)
_PLZ_CITY = re.compile(
    rf"(?:(?<=^)|(?<=\n)|(?<=, )|(?<=,)|(?<=D-))(?:D-)?\d{{5}}\s+[{_UPPER}][{_LOWER}]+"
    rf"(?:[ -](?:(?:am|an der|im|bei|ob der)\s+)?[{_UPPER}][{_LOWER}]+)?",
    re.MULTILINE,
)

_ID_LABEL = (
    r"(?:Kundennummer|Kunden-Nr\.?|Kundennr\.?|Kd\.-?Nr\.?|Vertragsnummer|Vertrags-Nr\.?|"
    r"Vertragsnr\.?|Mitgliedsnummer|Personalnummer|Personal-Nr\.?|Versicherungsnummer|"
    r"Kontonummer|Ausweisnr\.?|Ausweisnummer|customer\s+(?:no\.?|number|id|#)|contract\s+(?:no\.?|number|id|#)|"
    r"account\s+(?:no\.?|number|#)|member(?:ship)?\s+(?:no\.?|number)|employee\s+(?:no\.?|number|id))"
)
_CUSTOMER_ID = re.compile(
    rf"\b{_ID_LABEL}\s*(?:[:#]\s*|(?:is|lautet|ist)\s+)?(?P<v>(?=[A-Z0-9\-/]*\d)[A-Z0-9][A-Z0-9\-/]{{3,}}[A-Z0-9])",
    re.IGNORECASE,
)

_NOT_NAMES = frozenset(
    {
        "zusammen", "team", "alle", "allerseits", "everyone", "all", "there", "kollegen",
        "kolleginnen", "servicedesk", "support", "it", "leute", "folks", "guys", "sir", "madam",
        "again", "again,", "nochmal", "noch", "danke", "thanks", "auch", "und", "and",
        "damen", "herren", "frau", "herr", "viele", "beste", "grüße", "gruß", "mit",
        "freundliche", "liebe", "herzliche", "schöne", "best", "kind", "regards", "cheers",
    }
)  # fmt: skip
_TITLE = r"(?:Frau|Herrn?|Mr\.?|Mrs\.?|Ms\.?|Miss|Dr\.|Prof\.)"
_GREETING = re.compile(
    rf"\b(?:Hallo|Hi|Hey|Moin|Servus|Dear|Hello|Guten\s+(?:Morgen|Tag|Abend)|Liebe[r]?|"
    rf"Sehr\s+geehrte[r]?|Good\s+(?:morning|afternoon|evening))"
    rf"(?:\s+{_TITLE})*\s+(?P<n>{_FULL_NAME})\s*(?=[,!:\n])"
)
_TITLED = re.compile(rf"\b{_TITLE}(?:\s+(?:Dr\.|Prof\.))?\s+(?P<n>{_NAME_WORD})\b")
_ROLE_NOUN = re.compile(  # "mein Mitarbeiter Sven Harms", "my colleague Anna Berg": two words
    rf"\b(?:Mitarbeiter(?:in)?|Kollege|Kollegin|Vorgesetzte[rn]?|Chef(?:in)?|colleague|"
    rf"manager|employee)[ \t]+(?P<n>{_NAME_WORD}[ \t]+{_NAME_WORD})\b"
)
_CLOSING = (
    r"(?:Viele\s+Grüße|Beste\s+Grüße|Mit\s+freundlichen\s+Grüßen|Freundliche\s+Grüße|"
    r"Liebe\s+Grüße|Schöne\s+Grüße|Herzliche\s+Grüße|Grüße|Gruß|VG|MfG|LG|"
    r"(?:Danke|Vielen\s+Dank|Thanks|Thank\s+you)\s+(?:und|and)\s+(?:viele\s+|best\s+)?"
    r"(?:Gruß|Grüße|regards)|Danke|Vielen\s+Dank|"
    r"Danke\s+im\s+Voraus|Best\s+regards|Kind\s+regards|Warm\s+regards|Best\s+wishes|Regards|"
    r"Best|Cheers|Thanks|Thank\s+you|Many\s+thanks|Thanks\s+in\s+advance|Sincerely|"
    r"Yours\s+sincerely|BR|--)"
)
_SIGNATURE = re.compile(  # a lookahead, so that "Danke!\nViele Grüße\nName" finds both
    rf"(?=(?:^|\n)[ \t]*{_CLOSING}[ \t]*[,.!]?(?:[ \t]+|[ \t]*\n(?:[ \t]*\n)*[ \t]*)"
    rf"(?P<n>{_FULL_NAME})(?=[ \t]*(?:$|\n|,|\(|\||-|–)))"
)


# -- detectors ----------------------------------------------------------------------------------
def _iban_ok(compact: str) -> bool:
    if not (15 <= len(compact) <= 34) or not compact[:2].isalpha() or not compact[2:4].isdigit():
        return False
    expected = _IBAN_LENGTHS.get(compact[:2])
    if expected is not None and len(compact) != expected:
        return False
    moved = compact[4:] + compact[:4]
    digits = "".join(str(int(c, 36)) for c in moved)
    return int(digits) % 97 == 1


def _ibans(text: str) -> Iterator[Span]:
    for m in _IBAN_CANDIDATE.finditer(text):
        raw = m.group(0)
        # the candidate may run into following words: try every prefix, longest first
        ends = [i + 1 for i, c in enumerate(raw) if c != " "]
        for end in reversed(ends):
            compact = raw[:end].replace(" ", "")
            if len(compact) < 15:
                break
            if _iban_ok(compact):
                yield Span(m.start(), m.start() + end, "iban")
                break


def _ips(text: str) -> Iterator[Span]:
    for m in _IPV4.finditer(text):
        if _VERSION_BEFORE.search(text[max(0, m.start() - 12) : m.start()]):
            continue
        yield Span(m.start(), m.end(), "ip")
    for m in _IPV6_CANDIDATE.finditer(text):
        candidate = m.group(0)
        if candidate.count(":") < 2 or sum(c.isalnum() for c in candidate) < 3:
            continue
        try:
            ipaddress.IPv6Address(candidate)
        except ValueError:
            continue
        if re.fullmatch(r"\d{1,2}(?::\d{2}){1,2}", candidate):  # a time of day
            continue
        yield Span(m.start(), m.end(), "ip")


_IBAN_SHAPE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b")


def _phones(text: str) -> Iterator[Span]:
    iban_like = [(m.start(), m.end()) for m in _IBAN_SHAPE.finditer(text)]
    for span in _phone_candidates(text):
        if not any(span.start < end and start < span.end for start, end in iban_like):
            yield span


def _phone_candidates(text: str) -> Iterator[Span]:
    for m in _PHONE_AFTER_LABEL.finditer(text):
        number = re.search(r"\+?\d[\d \-/()]*\d", m.group(0)[len(_label(m.group(0))) :])
        if number is not None:
            start = m.start() + len(_label(m.group(0))) + number.start()
            yield Span(start, start + len(number.group(0)), "phone")
    for m in _PHONE.finditer(text):
        digits = sum(c.isdigit() for c in m.group(0))
        if digits < 6 or digits > 15:
            continue
        if _VERSION_BEFORE.search(text[max(0, m.start() - 12) : m.start()]):
            continue
        yield Span(m.start(), m.end(), "phone")


def _label(match_text: str) -> str:
    label = re.match(rf"{_PHONE_LABEL}\s*(?:[:.]\s*)?", match_text, re.IGNORECASE)
    return label.group(0) if label else ""


def _urls(text: str) -> Iterator[Span]:
    for m in _URL.finditer(text):
        url = m.group(0).rstrip(".,;:!?")
        if _SECRET_QUERY.search(url):
            yield Span(m.start(), m.start() + len(url), "url")


def _simple(pattern: re.Pattern[str], kind: Kind) -> Callable[[str], Iterator[Span]]:
    def find(text: str) -> Iterator[Span]:
        for m in pattern.finditer(text):
            yield Span(m.start(), m.end(), kind)

    return find


def _group(pattern: re.Pattern[str], group: str, kind: Kind) -> Callable[[str], Iterator[Span]]:
    def find(text: str) -> Iterator[Span]:
        for m in pattern.finditer(text):
            yield Span(m.start(group), m.end(group), kind)

    return find


_NAME_WITH_CONTACT = re.compile(
    rf"(?:^|\n)[ \t]*(?P<n>{_NAME_WORD}(?:\s+{_NAME_WORD}){{1,2}})[ \t]*"
    rf"(?=\([^)\n]*(?:ext\.|Tel|Durchwahl|DW|phone))"
)


def _names(text: str) -> Iterator[Span]:
    for pattern in (_GREETING, _SIGNATURE, _TITLED, _NAME_WITH_CONTACT, _ROLE_NOUN):
        for m in pattern.finditer(text):
            name = m.group("n")
            words = name.split()
            if words[0].lower() in _NOT_NAMES:
                continue
            # a trailing common word is not part of the name ("Hallo Anna Danke")
            while len(words) > 1 and words[-1].lower() in _NOT_NAMES:
                words.pop()
            end = m.start("n") + len(name)
            while name[: end - m.start("n")].split() != words:
                end = m.start("n") + len(name[: end - m.start("n")].rsplit(None, 1)[0])
            yield Span(m.start("n"), end, "name")


_DETECTORS: tuple[Callable[[str], Iterator[Span]], ...] = (
    _urls,
    _simple(_EMAIL, "email"),
    _ibans,
    _ips,
    _group(_CUSTOMER_ID, "v", "customer_id"),
    _simple(_STREET, "address"),
    _simple(_PLZ_CITY, "address"),
    _phones,
    _names,
)


def find_pii(text: str) -> list[Span]:
    """Non-overlapping findings in text order; of overlapping ones the longest wins."""
    found = [span for detect in _DETECTORS for span in detect(text) if span.end > span.start]
    found.sort(key=lambda s: (-(s.end - s.start), s.start))
    kept: list[Span] = []
    for span in found:
        if all(span.end <= k.start or span.start >= k.end for k in kept):
            kept.append(span)
    return sorted(kept, key=lambda s: s.start)


def redact(text: str) -> Redaction:
    """``text`` with every finding replaced by its placeholder (see the module docstring)."""
    spans = find_pii(text)
    parts: list[str] = []
    cursor = 0
    for span in spans:
        parts.append(text[cursor : span.start])
        parts.append(PLACEHOLDERS[span.kind])
        cursor = span.end
    parts.append(text[cursor:])
    return Redaction("".join(parts), tuple(spans))
