"""``POST /v1/feedback``: thumbs up or down (and an optional comment) on one answer."""

from __future__ import annotations

import logging
from functools import partial

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.auditing import record_feedback
from api.auth import Role
from api.deps import CallerDep, ServicesDep, require
from api.errors import responses
from api.routes.chat import timestamp
from api.schemas import FeedbackOut, FeedbackRequest

logger = logging.getLogger(__name__)

router = APIRouter(
    tags=["feedback"],
    dependencies=[require(Role.employee)],
    responses=responses(401, 403),
)


@router.post(
    "/v1/feedback",
    response_model=FeedbackOut,
    status_code=201,
    summary="Rate an answer; rating it again replaces the earlier rating",
    responses=responses(404, 422),
)
async def feedback(body: FeedbackRequest, services: ServicesDep, caller: CallerDep) -> FeedbackOut:
    # one's own answers only (an admin may rate any): another's looks like a missing one
    owner = None if caller.role == Role.admin.value else caller.user_id
    stored = await run_in_threadpool(
        partial(
            services.conversations.add_feedback,
            body.answer_id,
            body.rating,
            body.comment,
            owner=owner,
        )
    )
    await run_in_threadpool(
        record_feedback, services, caller, body.answer_id, body.rating, comment=bool(body.comment)
    )
    logger.info(
        "feedback answer=%s rating=%s comment=%s", body.answer_id, body.rating, bool(body.comment)
    )
    return FeedbackOut(
        answer_id=stored.answer_id,
        rating=stored.rating,
        comment=stored.comment,
        created=timestamp(stored.created),
    )
