from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.auditing import audited_ask
from api.deps import ServicesDep
from api.errors import responses
from api.schemas import AskRequest, AskResponse
from assistant.identity import Caller
from models.errors import InvalidInput

router = APIRouter(tags=["chat"])


@router.post(
    "/v1/ask",
    response_model=AskResponse,
    summary="Ask one question, get a grounded answer with sources (or an abstention)",
    responses=responses(413, 422, 503),
)
async def ask(body: AskRequest, services: ServicesDep) -> AskResponse:
    limit = services.settings.api.max_question_chars
    if len(body.question) > limit:
        raise InvalidInput(
            f"the question has {len(body.question)} characters, the limit is {limit}",
            field="question",
            too_large=True,
        )
    caller = Caller(user_id="anonymous", role="employee")
    answer = await run_in_threadpool(
        audited_ask, services, services.assistant, body.question, caller, endpoint="ask"
    )
    return AskResponse.model_validate(answer.as_dict())
