"""The docs are checked against the code."""

from __future__ import annotations

from pathlib import Path

from siaga.config.docs import render_markdown

ROOT = Path(__file__).parents[2]


def test_config_reference_is_not_stale() -> None:
    written = (ROOT / "docs" / "config.md").read_text(encoding="utf-8")
    assert written == render_markdown(), "docs/config.md is stale: run `siaga config docs -o docs/config.md`"


def test_every_config_option_has_a_description() -> None:
    from siaga.config.docs import _models
    from siaga.config.models import SiteConfig

    missing = [
        f"{model.__name__}.{name}"
        for model in _models(SiteConfig)
        for name, info in model.model_fields.items()
        if not info.description and name != "id"
    ]
    assert missing == []


def test_readme_gives_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme and "make test" in readme
    assert "make test" in (ROOT / ".ci" / "run").read_text(encoding="utf-8")
