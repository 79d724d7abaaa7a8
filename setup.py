"""Build hook only (the project's metadata is in pyproject.toml): a wheel carries the front-end packages the
dashboard serves, copied at build time from ``node_modules`` (npm, package.json) into ``siaga/web/vendor/``.
Nothing of them is committed; an editable install serves them from ``node_modules`` instead."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent


def _vendor_table() -> tuple[tuple[str, str], ...]:
    """``VENDOR`` of src/siaga/web/assets.py, read without importing siaga (its dependencies are not here)."""
    tree = ast.parse((ROOT / "src/siaga/web/assets.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.AnnAssign) and getattr(node.target, "id", None) == "VENDOR" and node.value:
            return tuple(ast.literal_eval(node.value))
    raise SystemExit("setup.py: VENDOR not found in src/siaga/web/assets.py")


class BuildPyWithVendor(build_py):
    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        # the shipped systemd files, for `siaga install-service` (a checkout reads them from deploy/)
        shutil.copytree(ROOT / "deploy" / "systemd", Path(self.build_lib) / "siaga" / "deploy" / "systemd",
                        dirs_exist_ok=True)
        modules = ROOT / "node_modules"
        target = Path(self.build_lib) / "siaga" / "web" / "vendor"
        missing = [sub for _, sub in _vendor_table() if not (modules / sub).is_dir()]
        if missing:
            raise SystemExit(
                f"setup.py: front-end packages missing in {modules} ({', '.join(missing)}): run `npm ci` first"
            )
        for name, sub in _vendor_table():
            shutil.copytree(modules / sub, target / name, dirs_exist_ok=True)


setup(cmdclass={"build_py": BuildPyWithVendor})
