"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.errors import install_error_handlers
from api.routes import ask, health
from api.settings import Settings
from api.wiring import Services, build_services

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app. With ``services`` given (tests), the caller owns and closes them."""
    settings = settings or (services.settings if services else Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or build_services(settings)
        logger.info(
            "ready data_dir=%s model=%s", settings.data_dir, app.state.services.llm.model_id
        )
        try:
            yield
        finally:
            if owned:
                app.state.services.close()

    app = FastAPI(
        title="Lotse",
        version="0.1.0",
        summary="On-premises AI service-desk assistant: grounded answers from your documents.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(ask.router)
    return app
