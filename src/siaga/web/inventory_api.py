"""``GET /api/v1/inventory`` and ``GET /api/v1/impact/{target}``: the inventory and what is at stake, as JSON.

Both need the ``read`` scope (device values, models and what runs where are not for the public).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query

from siaga.i18n import UnknownLanguage, normalize_language, using_language
from siaga.inventory import Inventory, TargetError, UnknownTarget
from siaga.inventory.messages import target_error_line
from siaga.money import format_rupiah
from siaga.runtime.context import RuntimeContext
from siaga.web.auth.roles import Scope
from siaga.web.deps import get_ctx
from siaga.web.errors import ERROR_RESPONSES, ErrorResponse
from siaga.web.security import scope_required

router = APIRouter(
    prefix="/api/v1", tags=["inventory"], dependencies=[Depends(scope_required(Scope.read))],
    responses={**ERROR_RESPONSES,
               400: {"model": ErrorResponse, "description": "An id used in two sections: ask for kind:id."}},
)


LANG = r"^([iI][dD]|[eE][nN])([-_][A-Za-z0-9]{1,8})?$"  # id, en, ID, en_US, id-ID (an unknown one: 422)


def _inventory(ctx: RuntimeContext) -> Inventory:
    found = ctx.services.inventory
    if found is None:
        found = ctx.services.inventory = Inventory.from_config(ctx.config)
    return found


def _language(ctx: RuntimeContext, lang: str | None) -> str:
    try:
        return normalize_language(lang or ctx.config.site.language.value)
    except UnknownLanguage as exc:
        raise HTTPException(400, str(exc)) from None


@router.get("/inventory", summary="Rooms, racks, devices and the services on them, with values in rupiah")
def inventory(
    ctx: RuntimeContext = Depends(get_ctx),
    lang: str | None = Query(None, pattern=LANG, description="id or en (default: the site's language)"),
) -> dict[str, Any]:
    code = _language(ctx, lang)
    tree = _inventory(ctx).tree()
    return {"site": ctx.config.site.name, **tree, "value_text": format_rupiah(tree["value"], code)}


@router.get("/impact/{target}", summary="What is at stake when a room, rack, device, service or sensor fails")
def impact(
    target: str,
    ctx: RuntimeContext = Depends(get_ctx),
    lang: str | None = Query(None, pattern=LANG, description="id or en (default: the site's language)"),
) -> dict[str, Any]:
    code = _language(ctx, lang)
    try:
        report = _inventory(ctx).impact(target)
    except TargetError as err:
        with using_language(code):
            message = target_error_line(err)
        raise HTTPException(404 if isinstance(err, UnknownTarget) else 400, message) from None
    data = report.to_dict()
    data["value_at_risk_text"] = format_rupiah(report.value_at_risk, code)
    return data
