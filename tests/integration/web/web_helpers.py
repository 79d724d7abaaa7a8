"""Helpers of the dashboard tests: logging in, reading the CSRF token of a page."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

PASSWORD = "correct-horse-battery"


def login(client: TestClient, name: str, password: str = PASSWORD) -> Any:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token is not None
    return client.post("/login", data={"username": name, "password": password, "csrf_token": token.group(1),
                                       "next": "/"}, follow_redirects=False)


def csrf_of(client: TestClient, path: str = "/") -> str:
    m = re.search(r'<meta name="csrf-token" content="([^"]*)"', client.get(path).text)
    assert m is not None and m.group(1)
    return m.group(1)
