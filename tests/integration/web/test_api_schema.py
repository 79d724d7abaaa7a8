"""schemathesis against /api/v1/openapi.json: no 5xx, every answer matches the documented schema.

Bounded in time: a few generated requests per operation (derandomized, so a run is repeatable), schema-
valid (positive) and schema-invalid (negative) ones, and every integer path parameter (row ids) at its
boundaries: 0, 1, the largest BIGINT, one past it and far past it.
"""

from __future__ import annotations

from collections import Counter

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from openapi_spec_validator import validate
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import positive_data_acceptance
from web_helpers import NOW, Ctx
from web_standins import fire_alert, put_reading

from siaga.checks.status.token import read_or_create_token, token_path
from siaga.web.auth import accounts
from siaga.web.params import MAX_ROW_ID

POSITIVE_EXAMPLES = 6
NEGATIVE_EXAMPLES = 4
BOUNDARY_IDS = (0, 1, MAX_ROW_ID, MAX_ROW_ID + 1, 2**64 + 7)
CROSS_FIELD_RULES = {"POST /api/v1/maintenance"}


@pytest.fixture
def schema(whole_app: FastAPI, site: Ctx) -> tuple[schemathesis.BaseSchema, dict[str, str]]:
    fire_alert(site.manager, "leak", "leak-r1-floor", NOW)
    put_reading(site.engine, "temp-r1-top", 24.5, NOW)
    with site.engine.begin() as conn:
        secret, _ = accounts.create_token(conn, "schemathesis", ["read", "ack", "admin"], NOW, actor="test")
    # Our operations; the readings push belongs to the sources (its own tests) and takes sensor tokens.
    loaded = schemathesis.openapi.from_asgi("/api/v1/openapi.json", whole_app).exclude(path="/api/v1/readings")
    return loaded, {"Authorization": f"Bearer {secret}"}


def test_api_answers_match_the_schema(schema: tuple[schemathesis.BaseSchema, dict[str, str]]) -> None:
    loaded, headers = schema
    tested = []
    for result in loaded.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy())
        @settings(max_examples=POSITIVE_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            # Every default check: no 5xx, status, content type, schema. A window whose end comes before its
            # start is schema-valid and rightly refused (a rule across two fields the schema cannot say).
            skip = [positive_data_acceptance] if case.operation.label in CROSS_FIELD_RULES else []
            case.call_and_validate(headers=headers, excluded_checks=skip)

        run()
        tested.append(operation.label)
    assert len(tested) >= 18, tested


def test_requests_outside_the_schema_are_refused_without_a_server_error(
        schema: tuple[schemathesis.BaseSchema, dict[str, str]]) -> None:
    loaded, headers = schema
    for result in loaded.get_all_operations():
        operation = result.ok()

        @given(case=operation.as_strategy(generation_mode=GenerationMode.NEGATIVE))
        @settings(max_examples=NEGATIVE_EXAMPLES, deadline=None, derandomize=True, database=None,
                  suppress_health_check=list(HealthCheck))
        def run(case: schemathesis.Case) -> None:
            # Only "no 5xx": FastAPI rightly lets unknown query parameters through, which schemathesis would
            # count as a schema-violating request accepted.
            case.call_and_validate(headers=headers, checks=[not_a_server_error])

        try:
            run()
        except Unsatisfiable:  # nothing in this operation can be made invalid (no parameters, no body)
            continue


def test_every_id_in_a_path_at_its_boundaries(schema: tuple[schemathesis.BaseSchema, dict[str, str]],
                                              site: Ctx) -> None:
    loaded, headers = schema
    status_admin = {"Authorization": f"Bearer {read_or_create_token(token_path(site.loaded))}"}
    reached = []
    for result in loaded.get_all_operations():
        operation = result.ok()
        ids = [p.name for p in operation.path_parameters if p.definition.get("schema", {}).get("type") == "integer"]
        for name in ids:
            for value in BOUNDARY_IDS:
                extra = {"body": {"note": "boundary"}, "media_type": "application/json"} if operation.body else {}
                case = operation.Case(path_parameters={name: value}, **extra)
                for other in operation.path_parameters:
                    if other.name != name:
                        case.path_parameters[other.name] = 1
                response = case.call(headers=status_admin if operation.path.startswith("/api/v1/status/")
                                     else headers)
                assert response.status_code < 500, (operation.label, name, value, response.text)
                if not 1 <= value <= MAX_ROW_ID:
                    assert response.status_code == 422, (operation.label, name, value, response.text)
                reached.append((operation.label, value))
    labels = {label for label, _ in reached}
    assert {"GET /api/v1/alerts/{alert_id}", "POST /api/v1/alerts/{alert_id}/ack",
            "GET /api/v1/incidents/{incident_id}"} <= labels, labels


def test_the_openapi_document_is_valid_and_names_each_operation_once(whole_app: FastAPI) -> None:
    with TestClient(whole_app) as c:
        doc = c.get("/api/v1/openapi.json").json()
    validate(doc)  # raises on an invalid document (OpenAPI 3.1)
    ids = Counter(op["operationId"] for item in doc["paths"].values() for op in item.values() if "operationId" in op)
    assert [k for k, n in ids.items() if n > 1] == []
    assert {"/api/v1/inventory", "/api/v1/impact/{target}", "/api/v1/backups", "/api/v1/status"} <= set(doc["paths"])
    assert all(p.startswith("/api/v1/") for p in doc["paths"])
