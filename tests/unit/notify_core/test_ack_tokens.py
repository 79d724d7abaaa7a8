import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siaga.i18n.messages import render
from siaga.notify.ack import TokenError, sign, verify
from siaga.notify.keyfile import load_or_create_key
from siaga.notify.model import Recipient

from .helpers import T0

KEY = b"k" * 64
ANDI = Recipient("person", "andi")
H = dt.timedelta(hours=1)


def test_token_round_trips_bound_to_its_recipient() -> None:
    claim = verify(KEY, sign(KEY, (3, 4), ANDI, T0, H), T0 + dt.timedelta(minutes=59))
    assert claim.alert_ids == (3, 4) and claim.recipient == ANDI


def test_expired_token_is_refused_and_says_why_as_a_message() -> None:
    with pytest.raises(TokenError, match="expired") as refused:  # str(): English, for the log
        verify(KEY, sign(KEY, (3,), ANDI, T0, H), T0 + H)
    assert refused.value.why.key == "link.expired"  # a reader's own words come from the key
    assert render(refused.value.why, "id", ZoneInfo("Asia/Makassar")) == "tautan sudah kedaluwarsa"


def test_token_of_another_key_is_refused() -> None:
    with pytest.raises(TokenError, match="not signed") as refused:
        verify(b"x" * 64, sign(KEY, (3,), ANDI, T0, H), T0)
    assert refused.value.why.key == "link.not_signed"


@given(st.text(max_size=80))
def test_garbage_never_verifies(text: str) -> None:
    with pytest.raises(TokenError) as refused:
        verify(KEY, text, T0)
    assert refused.value.why.key in ("link.malformed", "link.not_signed")


def test_changing_the_recipient_breaks_the_signature() -> None:
    token = sign(KEY, (3,), ANDI, T0, H)
    payload, sig = token.split(".")
    forged = sign(KEY, (3,), Recipient("person", "sari"), T0, H).split(".")[0] + "." + sig
    with pytest.raises(TokenError):
        verify(KEY, forged, T0)
    assert payload != forged.split(".")[0]


def test_key_file_is_created_once_with_private_mode(tmp_path) -> None:
    path = tmp_path / "d" / "ack.key"
    key = load_or_create_key(path)
    assert load_or_create_key(path) == key and len(key) == 64
    assert path.stat().st_mode & 0o777 == 0o600


def test_a_storm_link_names_its_message_and_stays_short() -> None:
    token = sign(KEY, (), ANDI, T0, H, message_id=4321)
    claim = verify(KEY, token, T0)
    assert claim.message_id == 4321 and claim.alert_ids == () and len(token) < 120
