"""One error tree: every exception class siaga defines derives from ``SiagaError``, the tree drawn in
``siaga.errors`` names every one, and ``retryable`` is the one answer to "can a retry help"."""

from __future__ import annotations

import ast
import builtins
from pathlib import Path

import siaga
from siaga import errors
from siaga.backup.restic.errors import ResticError, ResticFailure
from siaga.checks.base import CheckFailed
from siaga.errors import SiagaError
from siaga.notify.telegram import BotApiError
from siaga.notify.transports import DeliveryError
from siaga.sources.payloads import PayloadError

SRC = Path(siaga.__file__).parent
BUILTIN_ERRORS = {n for n, v in vars(builtins).items() if isinstance(v, type) and issubclass(v, BaseException)}


def exception_classes() -> dict[str, list[str]]:
    """Every class of the package that derives from an exception: name -> names of its bases."""
    classes: dict[str, list[str]] = {}
    for path in SRC.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
                classes[node.name] = bases
    found: dict[str, list[str]] = {}
    changed = True
    while changed:
        changed = False
        for name, bases in classes.items():
            if name not in found and any(b in BUILTIN_ERRORS or b in found for b in bases):
                found[name] = bases
                changed = True
    return found


def test_every_exception_of_siaga_derives_from_siaga_error() -> None:
    found = exception_classes()
    tree = {"SiagaError"}
    while grown := {n for n, bases in found.items() if n not in tree and tree.intersection(bases)}:
        tree |= grown
    outside = sorted(set(found) - tree)
    assert not outside, f"exception classes outside the tree (derive them from SiagaError): {outside}"
    assert len(found) >= 27  # SiagaError and the 26 it gathered


def test_the_tree_in_the_docstring_names_every_error() -> None:
    doc = errors.__doc__ or ""
    missing = sorted(n for n in exception_classes() if n not in doc)
    assert not missing, f"add to the tree drawn in siaga/errors.py: {missing}"


def test_retryable_is_the_one_answer_to_can_a_retry_help() -> None:
    assert SiagaError("x").retryable is False
    assert SiagaError("x", retryable=True).retryable is True
    assert CheckFailed("HTTP 503").retryable is True
    assert CheckFailed("certificate expired", retryable=False).retryable is False
    assert DeliveryError("no answer").retryable is True
    assert DeliveryError("bad URL", retryable=False).retryable is False
    assert BotApiError("429", retryable=True).retryable is True
    assert ResticError(ResticFailure.locked, "locked").retryable is True
    assert ResticError(ResticFailure.wrong_password, "wrong password").retryable is False


def test_errors_that_were_value_errors_still_are() -> None:
    err = PayloadError("not_a_number", "x")
    assert isinstance(err, SiagaError) and isinstance(err, ValueError)
