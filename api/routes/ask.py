from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.auditing import audited_ask
from api.auth import Role
from api.deps import CallerDep, ServicesDep, require
from api.errors import responses
from api.schemas import AskRequest, AskResponse
from models.errors import InvalidInput

router = APIRouter(
    tags=["chat"],
    dependencies=[require(Role.employee)],
    responses=responses(401, 403),
)


@router.post(
    "/v1/ask",
    response_model=AskResponse,
    summary="Ask one question, get a grounded answer with sources (or an abstention)",
    responses=responses(413, 422, 503),
)
async def ask(body: AskRequest, services: ServicesDep, caller: CallerDep) -> AskResponse:
    limit = services.settings.api.max_question_chars
    if len(body.question) > limit:
        raise InvalidInput(
            f"the question has {len(body.question)} characters, the limit is {limit}",
            field="question",
            too_large=True,
        )
    answer = await run_in_threadpool(
        audited_ask, services, services.assistant, body.question, caller, endpoint="ask"
    )
    return AskResponse.model_validate(answer.as_dict())
