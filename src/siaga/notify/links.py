"""Telegram accounts linked to siaga people by one-time codes, and spent acknowledgement links (store)."""

from __future__ import annotations

import datetime as dt
import secrets

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from siaga.notify.tables import notify_ack_nonces, notify_telegram_links

CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I


def new_link_code(conn: Connection, person: str, now: dt.datetime, ttl: dt.timedelta) -> str:
    """A fresh one-time code for ``person`` (replacing any earlier one)."""
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(8))
    row = conn.execute(select(notify_telegram_links.c.person).where(notify_telegram_links.c.person == person)).first()
    values = {"code": code, "code_expires_at": now + ttl}
    if row is None:
        conn.execute(insert(notify_telegram_links).values(person=person, **values))
    else:
        conn.execute(update(notify_telegram_links).where(notify_telegram_links.c.person == person).values(**values))
    return code


def redeem_link_code(conn: Connection, code: str, user_id: str, chat_id: str, now: dt.datetime) -> str | None:
    """Link the Telegram account to the person whose unexpired code this is; the person's id, or None."""
    code = code.strip().upper()
    row = conn.execute(select(notify_telegram_links).where(notify_telegram_links.c.code == code)).first()
    if row is None or row.code_expires_at is None or row.code_expires_at <= now:
        return None
    # one Telegram account is one person
    conn.execute(update(notify_telegram_links).where(notify_telegram_links.c.user_id == user_id)
                 .values(user_id=None, chat_id=None, linked_at=None))
    conn.execute(update(notify_telegram_links).where(notify_telegram_links.c.person == row.person).values(
        user_id=user_id, chat_id=chat_id, linked_at=now, code=None, code_expires_at=None))
    return str(row.person)


def person_of_user(conn: Connection, user_id: str) -> str | None:
    return conn.execute(select(notify_telegram_links.c.person).where(
        notify_telegram_links.c.user_id == user_id)).scalar_one_or_none()


def unlink(conn: Connection, person: str) -> None:
    conn.execute(delete(notify_telegram_links).where(notify_telegram_links.c.person == person))


def spend_nonce(conn: Connection, nonce: str, recipient: str, alert_ids: list[int], now: dt.datetime) -> bool:
    """Mark an acknowledgement link used; False when it was used before."""
    if conn.execute(select(notify_ack_nonces.c.nonce).where(notify_ack_nonces.c.nonce == nonce)).first():
        return False
    try:
        with conn.begin_nested():
            conn.execute(insert(notify_ack_nonces).values(nonce=nonce, recipient=recipient, alert_ids=alert_ids,
                                                          used_at=now))
    except IntegrityError:
        return False
    return True


def nonce_used(conn: Connection, nonce: str) -> bool:
    return conn.execute(select(notify_ack_nonces.c.nonce).where(notify_ack_nonces.c.nonce == nonce)).first() is not None
