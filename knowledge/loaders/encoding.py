"""Turning the bytes of a text file into ``str``: BOMs, BOM-less UTF-16/32, declared charsets.

Order of evidence: a byte-order mark; the NUL pattern of BOM-less UTF-16/UTF-32; a charset the
container declares (HTML ``<meta charset>``, an e-mail's ``Content-Type``), if it decodes
cleanly; strict UTF-8; charset-normalizer for non-Latin scripts; finally cp1252 (then
latin-1, which never fails). German umlauts in legacy Windows files therefore come out right
instead of as ``Ã¼`` or ``�``.
"""

from __future__ import annotations

import codecs
import logging
import re

logger = logging.getLogger(__name__)

_BOMS: tuple[tuple[bytes, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# charset-normalizer is trusted only for scripts where a cp1252 fallback would be wrong; for
# Latin text it likes to pick cp1250 or mac_roman, which breaks French accents and the euro sign.
_TRUSTED_GUESSES = frozenset(
    {
        "big5",
        "cp1251",
        "cp1253",
        "cp1255",
        "cp1256",
        "cp932",
        "cp949",
        "euc_jis_2004",
        "euc_jp",
        "euc_kr",
        "gb18030",
        "gb2312",
        "iso2022_jp",
        "iso8859_5",
        "iso8859_7",
        "koi8_r",
        "koi8_u",
        "shift_jis",
    }
)

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")


def bom_encoding(data: bytes) -> str | None:
    """The encoding named by a leading byte-order mark, if any."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return encoding
    return None


def _nul_pattern_encoding(data: bytes) -> str | None:
    """Recognise BOM-less UTF-16/UTF-32 from where the NUL bytes sit in ASCII-heavy text."""
    sample = data[:4096]
    if len(sample) < 8 or b"\x00" not in sample:
        return None
    size = len(sample) - len(sample) % 4
    sample = sample[:size]
    columns = [sample[i::4].count(0) / (size // 4) for i in range(4)]
    if columns[0] < 0.1 and min(columns[1:]) > 0.9:
        return "utf-32-le"
    if columns[3] < 0.1 and max(columns[:3]) > 0.9 and min(columns[:3]) > 0.9:
        return "utf-32-be"
    even = (columns[0] + columns[2]) / 2
    odd = (columns[1] + columns[3]) / 2
    if odd > 0.6 and even < 0.1:
        return "utf-16-le"
    if even > 0.6 and odd < 0.1:
        return "utf-16-be"
    return None


def sniff_encoding(data: bytes) -> str | None:
    """A BOM or a BOM-less UTF-16/32 NUL pattern; ``None`` for byte-oriented encodings."""
    return bom_encoding(data) or _nul_pattern_encoding(data)


def _normalised_codec(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def decode_bytes(data: bytes, declared: str | None = None) -> tuple[str, str]:
    """Decode ``data``; return ``(text, encoding)``. Never raises for any input."""
    sniffed = sniff_encoding(data)
    if sniffed:
        bom = bom_encoding(data)
        body = data[len(_bom_bytes(bom)) :] if bom else data
        return body.decode(sniffed, errors="replace"), sniffed
    # Valid multi-byte UTF-8 is practically never an accident, so it beats a declared charset
    # (mail clients often declare iso-8859-1 for UTF-8 bodies). Declared Latin-1 and ASCII
    # mean cp1252, as in browsers.
    declared_codec = _normalised_codec(declared)
    candidates = ["utf-8"]
    if declared_codec in ("iso8859-1", "ascii"):
        candidates += ["cp1252", declared_codec]
    elif declared_codec:
        candidates.append(declared_codec)
    for encoding in candidates:
        if encoding.startswith(("utf-16", "utf-32")):
            continue
        try:
            return data.decode(encoding), encoding
        except (UnicodeDecodeError, LookupError):
            continue
    guess = _guess(data)
    if guess:
        try:
            return data.decode(guess), guess
        except (UnicodeDecodeError, LookupError):
            pass
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def _bom_bytes(encoding: str) -> bytes:
    return next(bom for bom, name in _BOMS if name == encoding)


def _guess(data: bytes) -> str | None:
    from charset_normalizer import from_bytes  # lazy: only for non-UTF-8 files

    best = from_bytes(data[:200_000]).best()
    if best is None:
        return None
    encoding = _normalised_codec(best.encoding)
    if encoding and encoding.replace("-", "_") in _TRUSTED_GUESSES:
        logger.debug("charset guessed encoding=%s", encoding)
        return encoding
    return None


def control_char_ratio(text: str) -> float:
    """Share of NULs and other C0 control characters (tab, newline, CR, FF excluded)."""
    if not text:
        return 0.0
    return len(_CONTROL.findall(text)) / len(text)
