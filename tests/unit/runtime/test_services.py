"""The services of a runtime are typed fields, each one drawn in the table of its docstring."""

from __future__ import annotations

import dataclasses

from siaga.runtime import services as services_module
from siaga.runtime.services import Services


def test_every_service_is_in_the_table_that_says_who_sets_and_reads_it() -> None:
    doc = services_module.__doc__ or ""
    rows = {line.split()[0] for line in doc.splitlines() if line.startswith("    ") and line.split()}
    fields = {f.name for f in dataclasses.fields(Services)}
    assert fields <= rows, f"add to the table of siaga/runtime/services.py: {sorted(fields - rows)}"


def test_a_new_runtime_has_no_service_until_a_component_provides_it() -> None:
    services = Services()
    assert services.alerts is None and services.ingest is None and services.snmp == []
