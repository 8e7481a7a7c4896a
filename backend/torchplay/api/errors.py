"""Every HTTP error in the API's one shape ({"type": "error", code, message, field, errors}).

The routes of experiments.py and lessons.py answer their own errors in that shape (see
ExperimentRoute); these handlers catch what reaches the app itself: an unknown path (404), a
method a route lacks (405), a query parameter out of bounds (422), and a bug (500, code
`internal`, logged), so no answer ever has FastAPI's default `{"detail": ...}` body.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from torchplay.api.experiments import validation_body
from torchplay.api.messages import error

log = logging.getLogger("torchplay")
CODES = {400: "bad_request", 404: "not_found", 405: "method_not_allowed", 413: "too_large",
         415: "bad_content_type"}


def add_error_handlers(app: FastAPI) -> None:
    """Register the handlers on the app."""

    @app.exception_handler(HTTPException)
    async def http_error(_request: Request, exc: HTTPException) -> JSONResponse:
        code = CODES.get(exc.status_code, f"http_{exc.status_code}")
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(error(code, message), status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse(validation_body(exc), status_code=422)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse(error("internal", "the server failed to answer this request; "
                                  "the failure is logged"), status_code=500)
