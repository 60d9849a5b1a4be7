"""The portal's strings exist in German and English alike, and the admin console's register form
checks and offers exactly what the server accepts (source name pattern, kinds, ticket formats)."""

from __future__ import annotations

import re
from pathlib import Path

from api import schemas_admin
from api.sources import SOURCE_KINDS
from knowledge.tickets.formats import FORMATS

WEB = Path(__file__).parents[2] / "api" / "web"


def _keys(block: str) -> list[str]:
    return re.findall(r"^    (\w+):", block, re.M)


def _languages() -> dict[str, list[str]]:
    source = (WEB / "i18n.js").read_text(encoding="utf-8")
    strings = source.split("const STRINGS = {", 1)[1].split("\n};\n", 1)[0]
    german, english = strings.split("\n  en: {", 1)
    assert german.lstrip().startswith("de: {"), "i18n.js: STRINGS starts with de, then en"
    return {"de": _keys(german), "en": _keys(english)}


def test_every_string_exists_in_both_languages_once() -> None:
    languages = _languages()
    assert len(languages["de"]) > 300  # the parser found the tables, not a fragment
    assert sorted(set(languages["de"]) ^ set(languages["en"])) == []
    for keys in languages.values():
        assert sorted({k for k in keys if keys.count(k) > 1}) == []


def _admin_constant(name: str) -> str:
    source = (WEB / "admin.js").read_text(encoding="utf-8")
    match = re.search(rf"^const {name} = (.+?);", source, re.M)
    assert match is not None, f"admin.js has no {name}"
    return match.group(1)


def test_the_register_form_checks_names_like_the_server() -> None:
    assert _admin_constant("SOURCE_NAME") == f"/{schemas_admin._NAME}/"


def test_the_register_form_offers_the_servers_kinds_and_ticket_formats() -> None:
    assert re.findall(r'"(\w+)"', _admin_constant("SOURCE_KINDS")) == list(SOURCE_KINDS)
    assert re.findall(r'"(\w+)"', _admin_constant("TICKET_FORMATS")) == list(FORMATS)
