"""One error shape for every JSON answer that fails: ``{"error": {"status", "message", "fields"?}}``."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException


def error_body(status: int, message: str, fields: list[dict[str, str]] | None = None) -> dict[str, object]:
    """The JSON body of an error answer."""
    error: dict[str, object] = {"status": status, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


async def _http_error(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    return JSONResponse(
        error_body(exc.status_code, str(exc.detail)), status_code=exc.status_code, headers=exc.headers
    )


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {"field": ".".join(str(p) for p in err.get("loc", ())), "message": str(err.get("msg", ""))}
        for err in exc.errors()
    ]
    return JSONResponse(error_body(422, "invalid request", fields), status_code=422)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _invalid_request)
