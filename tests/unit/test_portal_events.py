"""The admin console's audit filter offers exactly the audit log's event types."""

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
