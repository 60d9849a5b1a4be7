from __future__ import annotations

from fastapi import APIRouter, Request

from api.errors import responses
from api.schemas import Health, QueueOut, Readiness
from api.wiring import Services
from models.errors import StoreError

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="The process is alive")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="Models are loaded and the stores answer: send traffic here",
    description="503 (in the error shape) while the service starts or shuts down, or when an "
    "index cannot be read. `queue` shows the generation queue (waiting, running, rejected).",
    responses=responses(503),
)
def readyz(request: Request) -> Readiness:
    services: Services | None = getattr(request.app.state, "services", None)
    if services is None or not getattr(request.app.state, "ready", False):
        raise StoreError(
            "the service is not ready: it is starting or shutting down",
            hint="retry in a few seconds",
        )
    knowledge = services.knowledge
    chunks = knowledge.vectors.count()  # StoreError (503) when an index cannot be read
    knowledge.lexical.count()
    documents = knowledge.manifest.count()
    gate = services.assistant.gate.stats()
    return Readiness(
        status="ready",
        model=services.llm.model_id,
        embedder=knowledge.embedder.name,
        chunks=chunks,
        documents=documents,
        queue=QueueOut(
            waiting=gate.waiting,
            running=gate.running,
            rejected=gate.rejected,
            max_queue=gate.max_queue,
        ),
    )
