"""``GET /v1/admin/stats``: how many questions Lotse answered, how fast, how people rated it.

``per_day`` splits the window into UTC calendar days for the admin console's charts (questions
per day, answered vs abstained). Each day is one ``ConversationStore.stats`` call, so the days
add up to the window's totals exactly; at most the newest ``PER_DAY_MAX`` days are listed.
"""

from __future__ import annotations

import math
import time
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.auth import Role
from api.deps import ServicesDep, require
from api.errors import responses
from api.routes.chat import timestamp
from api.schemas import StatsDay, StatsResponse
from assistant.conversations import ConversationStore

router = APIRouter(
    tags=["admin"],
    dependencies=[require(Role.admin)],
    responses=responses(401, 403),
)

DAY_S = 86400.0
PER_DAY_MAX = 366


def day_bounds(since: float, until: float, limit: int = PER_DAY_MAX) -> list[tuple[float, float]]:
    """The UTC calendar days overlapping ``[since, until)``, clipped to it, oldest first;
    only the newest ``limit`` of them."""
    if until <= since:
        return []
    first = math.floor(since / DAY_S) * DAY_S  # UTC midnight: the epoch has no leap seconds
    starts = []
    start = first
    while start < until:
        starts.append(start)
        start += DAY_S
    return [(max(s, since), min(s + DAY_S, until)) for s in starts[-limit:]]


def per_day(store: ConversationStore, since: float, until: float) -> list[StatsDay]:
    days = []
    for lo, hi in day_bounds(since, until):
        s = store.stats(lo, hi)
        days.append(
            StatsDay(
                day=datetime.fromtimestamp(lo, tz=UTC).date(),
                questions=s.questions,
                answered=s.answered,
                abstained=s.abstained,
                feedback_up=s.feedback_up,
                feedback_down=s.feedback_down,
            )
        )
    return days


@router.get(
    "/v1/admin/stats",
    response_model=StatsResponse,
    summary="Usage statistics of a recent time window (no personal data)",
    responses=responses(422),
)
async def stats(
    services: ServicesDep,
    days: Annotated[
        int | None,
        Query(ge=1, le=3650, description="Window ending now; default conversations.stats_days."),
    ] = None,
) -> StatsResponse:
    until = time.time()
    since = until - (days or services.settings.conversations.stats_days) * DAY_S
    s = await run_in_threadpool(services.conversations.stats, since, until)
    daily = await run_in_threadpool(per_day, services.conversations, since, until)
    return StatsResponse(
        since=timestamp(s.since),
        until=timestamp(s.until),
        questions=s.questions,
        answered=s.answered,
        abstained=s.abstained,
        answer_rate=None if s.answer_rate is None else round(s.answer_rate, 4),
        deflection_rate=None if s.deflection_rate is None else round(s.deflection_rate, 4),
        feedback_up=s.feedback_up,
        feedback_down=s.feedback_down,
        total_ms_p50=s.total_ms_p50,
        total_ms_p95=s.total_ms_p95,
        first_token_ms_p50=s.first_token_ms_p50,
        first_token_ms_p95=s.first_token_ms_p95,
        per_day=daily,
    )
