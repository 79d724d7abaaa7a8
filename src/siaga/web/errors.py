"""One error shape for every API error: ``{"error": {"status", "code", "message", "details"}}``.

``status`` is the HTTP status, ``code`` a short stable key (``not_found``, ``forbidden``,
``validation_failed``...), ``message`` one line a person can act on, ``details`` machine-readable
details (the fields of a 422) or null.

API routes raise :class:`ApiError`; FastAPI's own 404/405/422 and any uncaught exception (500) are turned
into the same shape by :func:`install_error_handlers`. A browser asking for a page (outside ``/api``, with
``Accept: text/html`` or from htmx) gets a short HTML page instead, and a 401 sends it to the login form.
The API's message is English; a page's title (:data:`STATUS_TITLES`) and reason are worded for its reader.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from siaga.errors import SiagaError
from siaga.i18n.messages import Message

log = logging.getLogger("siaga.web")

API_PREFIX = "/api/"


class ErrorBody(BaseModel):
    status: int = Field(description="The HTTP status, repeated.")
    code: str = Field(description="A short stable key, e.g. not_found, forbidden, validation_failed.")
    message: str = Field(description="One line a person can act on.")
    details: Any = Field(default=None, description="Machine-readable details (the fields of a 422), or null.")


class ErrorResponse(BaseModel):
    """The shape of every error the API returns."""

    error: ErrorBody


class ApiError(SiagaError):
    """An error with its HTTP status, a stable code and a message (in English, as every API error's).

    ``why``, when siaga has its reason as a message key and parameters: what a page shows instead of
    ``message``, worded for its reader (see :func:`install_error_handlers`)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
        why: Message | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = details
        self.headers = headers
        self.why = why


def worded(status: int, code: str, why: Message, *, details: Any = None,
           headers: dict[str, str] | None = None) -> ApiError:
    """An error whose reason siaga has as a message key and parameters: the API's ``message`` is its line in
    English, as every API error's; the dashboard's pages word ``why`` for their reader."""
    return ApiError(status, code, why.english(), details, headers, why=why)


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")


def forbidden(message: str = "you may not do this") -> ApiError:
    return ApiError(403, "forbidden", message)


def unauthorized(message: str = "log in or send a bearer token") -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def error_body(status: int, message: str, details: Any = None, *, code: str | None = None) -> dict[str, Any]:
    """The JSON body of an error answer (for routes that build their own response)."""
    return {"error": {"status": status, "code": code or code_for(status), "message": message, "details": details}}


def error_json(status: int, code: str, message: str, details: Any = None, headers: dict[str, str] | None = None
               ) -> JSONResponse:
    return JSONResponse(error_body(status, message, details, code=code), status_code=status, headers=headers)


# The error responses every API route may give, for the OpenAPI document.
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorResponse, "description": "Not logged in, or no valid bearer token."},
    403: {"model": ErrorResponse, "description": "Logged in, but the role or token scope does not allow it."},
    404: {"model": ErrorResponse, "description": "No such object."},
    422: {"model": ErrorResponse, "description": "The request does not validate."},
}

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


STATUS_TITLES: dict[int, Message] = {
    400: Message("web.status.400"),
    401: Message("web.status.401"),
    403: Message("web.status.403"),
    404: Message("web.status.404"),
    405: Message("web.status.405"),
    409: Message("web.status.409"),
    410: Message("web.status.410"),
    422: Message("web.status.422"),
    429: Message("web.status.429"),
    500: Message("web.status.500"),
    503: Message("web.status.503"),
}
"""An error page's title after its number, for the statuses siaga answers; any other shows its number alone."""

HTTP_REASONS: dict[int, Message] = {404: Message("web.no_page"), 405: Message("web.method")}
"""What a page says of the router's own errors (no such address, a method it does not take)."""

INTERNAL = Message("web.internal")


def code_for(status: int) -> str:
    if status in _CODES:
        return _CODES[status]
    try:
        return HTTPStatus(status).phrase.lower().replace(" ", "_")
    except ValueError:
        return "error"


def is_api(request: Request) -> bool:
    """JSON errors, unless a browser asks for a page (text/html or htmx) outside /api and /metrics."""
    path = request.url.path
    if path.startswith(API_PREFIX) or path in ("/api", "/metrics"):
        return True
    return not (request.headers.get("HX-Request") or "text/html" in request.headers.get("accept", ""))


def _page(request: Request, status: int, message: str, headers: dict[str, str] | None = None, *,
          title: str = "") -> Response:
    """A short page (or, for htmx, a flash) saying ``message``; ``title``: the status's words, after its number."""
    if status == 401:
        nxt = quote(request.url.path + (f"?{request.url.query}" if request.url.query else ""), safe="/?=&")
        return RedirectResponse(f"/login?next={nxt}", status_code=303)
    heading = _escape(f"{status} {title}".strip())
    if request.headers.get("HX-Request"):
        return HTMLResponse(f'<div class="flash error" role="alert">{_escape(message) if message else heading}</div>',
                            status_code=status, headers=headers)
    said = f"<p>{_escape(message)}</p>" if message else ""
    html = (
        "<!doctype html><html><head><meta charset=utf-8><meta name=viewport content='width=device-width'>"
        f"<title>{heading}</title><link rel=stylesheet href='/static/siaga/siaga.css'></head>"
        f"<body><main class='narrow'><h1>{heading}</h1>{said}"
        "<p><a href='/'>siaga</a></p></main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=headers)


def _escape(text: str) -> str:
    from markupsafe import escape

    return str(escape(text))


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        out.append({"loc": [str(p) for p in err.get("loc", ())], "msg": str(err.get("msg", "")),
                    "type": str(err.get("type", ""))})
    return out


def install_error_handlers(app: FastAPI, words: Callable[[Request, Message], str] | None = None) -> None:
    """Make every error of ``app`` come out in the one shape (API) or as a short page (pages). ``words``: an
    error's ``why`` worded for the reader of the request (the dashboard passes its language); a page shows it
    instead of the English ``message``, under its status's title (:data:`STATUS_TITLES`) in the same words.
    Without ``words``, pages are in English."""

    def say(request: Request, why: Message) -> str:
        return words(request, why) if words is not None else why.english()

    def page(request: Request, status: int, why: Message | None, message: str = "",
             headers: dict[str, str] | None = None) -> Response:
        title = STATUS_TITLES.get(status)
        return _page(request, status, say(request, why) if why else message, headers,
                     title=say(request, title) if title else "")

    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        if is_api(request):
            return error_json(exc.status, exc.code, exc.message, exc.details, exc.headers)
        return page(request, exc.status, exc.why, exc.message, exc.headers)

    async def http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        message = str(exc.detail) if exc.detail else HTTPStatus(status).phrase
        headers = dict(exc.headers) if exc.headers else None
        if is_api(request):
            return error_json(status, code_for(status), message, None, headers)
        if words is None:
            return page(request, status, None, message, headers)
        # the router's own (no such page, a method it does not take) in the reader's words; an English detail is
        # the API's: the page says its status alone
        return page(request, status, HTTP_REASONS.get(status), "", headers)

    async def validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        details = _validation_details(exc)
        first = details[0] if details else {"loc": [], "msg": "invalid request"}
        message = f"{'.'.join(first['loc'])}: {first['msg']}" if first["loc"] else str(first["msg"])
        if is_api(request):
            return error_json(422, "validation_failed", message, details)
        field = ".".join(first["loc"][1:] or first["loc"])  # the field, without body/query/path
        why = Message("web.invalid", {"field": field}) if field else Message("web.invalid.request")
        return page(request, 422, why)

    async def internal_error(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        if is_api(request):
            return error_json(500, "internal_error", INTERNAL.english())
        return page(request, 500, INTERNAL)

    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(Exception, internal_error)
