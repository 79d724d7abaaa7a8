"""An error page says its status and why in its reader's language; the API's JSON stays English."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from fastapi import FastAPI, HTTPException, Request
from fastapi.testclient import TestClient

from siaga.i18n.messages import Message, render
from siaga.web.errors import STATUS_TITLES, install_error_handlers

PAGE = {"Accept": "text/html"}


def app_in(language: str | None) -> TestClient:
    """An app whose pages are worded in ``language`` (None: no words given, English)."""
    app = FastAPI()

    def words(request: Request, why: Message) -> str:
        return render(why, language or "en", ZoneInfo("Asia/Makassar"))

    install_error_handlers(app, words if language else None)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    @app.get("/teapot")
    def teapot() -> None:
        raise HTTPException(418, "I'm a teapot")

    @app.get("/busy")
    def busy() -> None:
        raise HTTPException(503, "the token file cannot be read")

    return TestClient(app, raise_server_exceptions=False)


def test_an_internal_error_is_worded_for_the_reader_and_the_api_says_it_in_english() -> None:
    page = app_in("id").get("/boom", headers=PAGE)
    assert page.status_code == 500 and "<h1>500 Kesalahan internal</h1>" in page.text, page.text
    assert "kesalahan internal; rinciannya ada di log server" in page.text and "a bug" not in page.text
    page = app_in("en").get("/boom", headers=PAGE)
    assert "<h1>500 Internal error</h1>" in page.text and "the server log has the details" in page.text
    answer = app_in("id").get("/boom").json()["error"]
    assert answer == {"status": 500, "code": "internal_error",
                      "message": "internal error; the server log has the details", "details": None}


def test_a_status_siaga_has_no_words_for_shows_its_number_and_an_english_detail_stays_in_the_api() -> None:
    page = app_in("id").get("/teapot", headers=PAGE)
    assert page.status_code == 418 and "<h1>418</h1>" in page.text and "teapot" not in page.text, page.text
    page = app_in("id").get("/busy", headers=PAGE)
    assert "<h1>503 Tidak tersedia</h1>" in page.text and "token file" not in page.text, page.text
    answer = app_in("id").get("/busy").json()["error"]
    assert (answer["code"], answer["message"]) == ("unavailable", "the token file cannot be read")


def test_without_words_a_page_is_in_english() -> None:
    page = app_in(None).get("/busy", headers=PAGE)
    assert "<h1>503 Unavailable</h1>" in page.text and "the token file cannot be read" in page.text, page.text
    page = app_in(None).get("/nowhere", headers=PAGE)
    assert "<h1>404 Not found</h1>" in page.text and "Not Found" in page.text, page.text


def test_every_status_title_is_worded_in_both_languages() -> None:
    for status, title in STATUS_TITLES.items():
        english, indonesian = render(title, "en", ZoneInfo("UTC")), render(title, "id", ZoneInfo("UTC"))
        assert english and indonesian != english, (status, english, indonesian)
