"""The FastAPI application factory."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from api.auth import build_authenticator, check_bind
from api.errors import document_common_errors, install_error_handlers
from api.limits import BodyLimitMiddleware
from api.routes import admin, ask, chat, feedback, health, portal, search, stats
from api.routes import audit as audit_routes
from api.routes import candidates as candidate_routes
from api.routes import erase as erase_routes
from api.routes import escalations as escalation_routes
from api.routes import keys as keys_routes
from api.routes import me as me_routes
from api.routes import openai as openai_compat
from api.routes import tickets as ticket_routes
from api.security_headers import SecurityHeadersMiddleware
from api.settings import Settings
from api.wiring import Services, build_services

logger = logging.getLogger(__name__)


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the app. With ``services`` given (tests), the caller owns and closes them."""
    settings = settings or (services.settings if services else Settings())
    check_bind(settings.auth, settings.api.host)
    authenticator = build_authenticator(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        app.state.services = services or build_services(settings)
        logger.info(
            "ready data_dir=%s model=%s", settings.data_dir, app.state.services.llm.model_id
        )
        if settings.auth.mode == "none":
            logger.warning(
                "auth_disabled mode=none role=%s: every caller on this machine is anonymous; "
                "set LOTSE_AUTH__MODE=keys or oidc before serving anyone else",
                settings.auth.dev_role,
            )
        app.state.ready = True
        try:
            yield
        finally:
            app.state.ready = False
            # a running reindex stops before its next file; its state is stored as cancelled
            await run_in_threadpool(app.state.services.jobs.close)
            if owned:
                app.state.services.close()

    app = FastAPI(
        title="Lotse",
        version="0.1.0",
        summary="On-premises AI service-desk assistant: grounded answers from your documents.",
        lifespan=lifespan,
    )
    app.state.authenticator = authenticator
    install_error_handlers(app)
    document_common_errors(app)
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.api.max_body_bytes)
    # outermost: every response carries the headers, including a refused oversized body
    app.add_middleware(
        SecurityHeadersMiddleware,
        csp_exempt=[
            u for u in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url) if u
        ],
    )
    app.include_router(health.router)
    app.include_router(ask.router)
    app.include_router(admin.router)
    app.include_router(audit_routes.router)
    app.include_router(openai_compat.router)
    app.include_router(chat.router)
    app.include_router(search.router)
    app.include_router(feedback.router)
    app.include_router(stats.router)
    app.include_router(erase_routes.router)
    app.include_router(keys_routes.router)
    app.include_router(escalation_routes.router)
    app.include_router(me_routes.router)
    app.include_router(ticket_routes.router)
    app.include_router(ticket_routes.webhooks)
    app.include_router(candidate_routes.router)
    app.include_router(portal.router)
    return app
