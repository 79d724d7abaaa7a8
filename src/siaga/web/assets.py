"""Where the front-end packages are: inside the installed package (a wheel carries them in
``siaga/web/vendor/``, copied from npm at build time by setup.py), else ``node_modules`` (a checkout:
installed by ``scripts/setup.sh`` from package.json).

No third-party code is committed: htmx, its SSE extension, uPlot and Swagger UI are served under
``/static/vendor/``. ``SIAGA_NODE_MODULES`` points elsewhere when needed.
"""

from __future__ import annotations

import os
from pathlib import Path

# (URL name, package folder inside node_modules, folder of the files to serve)
VENDOR: tuple[tuple[str, str], ...] = (
    ("htmx", "htmx.org/dist"),
    ("htmx-sse", "htmx-ext-sse/dist"),
    ("uplot", "uplot/dist"),
    ("swagger-ui", "swagger-ui-dist"),
)

STATIC_DIR = Path(__file__).parent / "static"
TEMPLATES_DIR = Path(__file__).parent / "templates"
PACKAGED_VENDOR_DIR = Path(__file__).parent / "vendor"  # present in a wheel, absent in a checkout


def node_modules(start: Path | None = None) -> Path | None:
    """The node_modules folder: $SIAGA_NODE_MODULES, else the nearest one above the package, else cwd's."""
    env = os.environ.get("SIAGA_NODE_MODULES")
    if env:
        return Path(env) if Path(env).is_dir() else None
    here = (start or Path(__file__)).resolve()
    for folder in [here, *here.parents]:
        candidate = folder / "node_modules"
        if candidate.is_dir():
            return candidate
    cwd = Path.cwd() / "node_modules"
    return cwd if cwd.is_dir() else None


def vendor_dirs() -> dict[str, Path]:
    """URL name -> folder, for the packages that are installed (the wheel's own copy first)."""
    packaged = {name: PACKAGED_VENDOR_DIR / name for name, _ in VENDOR if (PACKAGED_VENDOR_DIR / name).is_dir()}
    if packaged and not os.environ.get("SIAGA_NODE_MODULES"):
        return packaged
    root = node_modules()
    if root is None:
        return {}
    return {name: root / sub for name, sub in VENDOR if (root / sub).is_dir()}
