"""The admin console's audit filter and the governance doc name exactly the audit event types."""

from __future__ import annotations

import re
from pathlib import Path

from assistant.audit import EVENT_TYPES

ADMIN_JS = Path(__file__).parents[2] / "api" / "web" / "admin.js"


def test_audit_filter_lists_every_event_type() -> None:
    source = ADMIN_JS.read_text(encoding="utf-8")
    block = re.search(r"const EVENTS = \[(.*?)\];", source, re.S)
    assert block is not None, "admin.js has no EVENTS list"
    listed = re.findall(r'"(\w+)"', block.group(1))
    assert sorted(listed) == sorted(EVENT_TYPES)


def test_governance_doc_names_every_event_type() -> None:
    """docs/governance.md is what a works council reads: no event may be missing from it."""
    doc = (ADMIN_JS.parents[2] / "docs" / "governance.md").read_text(encoding="utf-8")
    section = doc.split("## What is recorded", 1)[1].split("\n## ", 1)[0]
    missing = [e for e in EVENT_TYPES if f"`{e}`" not in section]
    assert missing == []
