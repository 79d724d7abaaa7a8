import pytest
from pydantic import TypeAdapter

from siaga.config.notify import Channel
from siaga.notify.urls import ChannelError, apprise_url

CH: TypeAdapter[Channel] = TypeAdapter(Channel)


def test_email_url_carries_parts_and_password_from_a_file(tmp_path) -> None:
    (tmp_path / "pw").write_text("s3cr@t/x\n")
    spec = CH.validate_python({"type": "email", "host": "mail.example", "username": "siaga",
                               "password_file": "pw", "sender": "siaga@example"})
    url = apprise_url(spec, "andi@example", tmp_path)
    assert url.startswith("mailtos://siaga:s3cr%40t%2Fx@mail.example:587?")
    assert "to=andi%40example" in url and "mode=starttls" in url


def test_webhook_url_takes_token_from_env_and_extra_fields() -> None:
    spec = CH.validate_python({"type": "webhook", "url": "http://127.0.0.1:9/hook", "token": "${T}"})
    url = apprise_url(spec, "", environ={"T": "abc"}, extra={"alerts": "1,2"})
    assert url.startswith("json://127.0.0.1:9/hook?") and "%3Aalerts=1%2C2" in url.replace(":alerts", "%3Aalerts")
    assert "Bearer%20abc" in url


def test_missing_env_secret_is_a_channel_error() -> None:
    spec = CH.validate_python({"type": "ntfy", "token": "${NOPE}"})
    with pytest.raises(ChannelError, match="NOPE"):
        apprise_url(spec, "topic", environ={})


def test_whatsapp_gateway_posts_number_and_token() -> None:
    spec = CH.validate_python({"type": "whatsapp", "url": "https://api.fonnte.com/send", "token": "${W}"})
    url = apprise_url(spec, "+6281250001001", environ={"W": "tok"})
    assert url.startswith("forms://api.fonnte.com/send?") and "6281250001001" in url and "tok" in url


def test_ntfy_topic_on_own_server() -> None:
    spec = CH.validate_python({"type": "ntfy", "server_url": "http://127.0.0.1:8080"})
    assert apprise_url(spec, "ruang-server") == "ntfy://127.0.0.1:8080/ruang-server?priority=high"


def test_every_channel_type_of_the_config_has_a_line_in_the_url_table() -> None:
    from typing import get_args

    from siaga.config.notify import Channel
    from siaga.notify.urls import URL_BUILDERS

    assert set(get_args(get_args(Channel)[0])) == set(URL_BUILDERS)
