"""``python bench/crashing_serve.py serve ...``: siaga with one more component, ``faults.crashing``, added
through the registration table like any feature's. It raises at every start while the file ``crash`` sits
beside the config (its text is the error), and runs quietly once the file is gone. With the file
``broken-factory`` there, its factory raises a plain ValueError (a bug at start)."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from siaga.runtime import COMPONENTS, Component, RuntimeContext


def component(ctx: RuntimeContext) -> Component:
    flag = ctx.loaded.base_dir / "crash"
    if (ctx.loaded.base_dir / "broken-factory").exists():
        raise ValueError("a bug in a factory")

    async def run(_ctx: RuntimeContext, stop: asyncio.Event) -> None:
        if flag.exists():
            raise RuntimeError(flag.read_text(encoding="utf-8").strip() or "crash")
        await stop.wait()

    return Component("faults.crashing", run)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    COMPONENTS.append("crashing_serve:component")
    from siaga.cli.main import run

    run()
