"""``GET /v1/admin/stats``: how many questions Lotse answered, how fast, how people rated it."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Query
from starlette.concurrency import run_in_threadpool

from api.auth import Role
from api.deps import ServicesDep, require
from api.errors import responses
from api.routes.chat import timestamp
from api.schemas import StatsResponse

router = APIRouter(
    tags=["admin"],
    dependencies=[require(Role.admin)],
    responses=responses(401, 403),
)

DAY_S = 86400.0


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
    )
