import datetime as dt
from zoneinfo import ZoneInfo

from siaga.alerts.model import Impact
from siaga.config.checks import MaintenanceWindow
from siaga.config.notify import TimeWindow
from siaga.notify.maintenance import covering, from_config
from siaga.notify.windows import in_window

from .helpers import alert

WITA = ZoneInfo("Asia/Makassar")


def at(day: int, hh: int, mm: int = 0) -> dt.datetime:
    return dt.datetime(2026, 12, day, hh, mm, tzinfo=WITA)  # 2026-12-04 is a Friday


def test_config_window_in_local_time_covers_matching_alerts_only() -> None:
    cfg = MaintenanceWindow(id="ac", title="AC", starts_at=dt.datetime(2026, 12, 5, 8),
                            ends_at=dt.datetime(2026, 12, 5, 12), places=["pac-1"], rules=["temperature.*"])
    w = from_config(cfg, WITA)
    hot = alert(rule="temperature.high", subject="temp-room", impact=Impact(room="ruang-server", devices=("pac-1",)))
    assert covering([w], hot, at(5, 9)) is w
    assert covering([w], hot, at(5, 12)) is None  # the end is open
    portal = alert(rule="service.down", subject="portal", impact=Impact(services=("portal",)))
    svc = from_config(MaintenanceWindow(id="s", title="s", starts_at=dt.datetime(2026, 12, 5, 8),
                                        ends_at=dt.datetime(2026, 12, 5, 9), services=["portal"]), WITA)
    assert covering([svc], portal, at(5, 8)) is svc
    assert covering([svc], alert(impact=Impact(rack="R3", services=("mail",))), at(5, 8)) is None
    assert covering([w], alert(impact=Impact(devices=("pac-1",))), at(5, 9)) is None  # a leak is not covered


def test_whole_site_window_covers_everything() -> None:
    cfg = MaintenanceWindow(id="all", title="x", starts_at=dt.datetime(2026, 12, 5, 8),
                            ends_at=dt.datetime(2026, 12, 5, 9))
    w = from_config(cfg, WITA)
    assert covering([w], alert(), at(5, 8, 30)) is w


def test_office_hours_exclude_weekends_and_holidays() -> None:
    office = TimeWindow(days=["mon", "tue", "wed", "thu", "fri"], start="07:30", end="16:00", holidays="exclude")
    assert in_window(office, at(4, 9), WITA)
    assert not in_window(office, at(5, 9), WITA)  # Saturday
    assert not in_window(office, at(4, 16), WITA)
    assert not in_window(office, at(25, 9), WITA, holidays={dt.date(2026, 12, 25)})


def test_night_window_runs_past_midnight_and_belongs_to_its_start_day() -> None:
    fri_night = TimeWindow(days=["fri"], start="22:00", end="06:00")
    assert in_window(fri_night, at(4, 23), WITA)
    assert in_window(fri_night, at(5, 2), WITA)  # Saturday 02:00 belongs to Friday night
    assert not in_window(fri_night, at(6, 2), WITA)  # Sunday 02:00 belongs to Saturday night
    assert not in_window(fri_night, at(4, 12), WITA)


def test_window_reads_utc_in_the_site_zone() -> None:
    office = TimeWindow(start="07:30", end="16:00")
    assert in_window(office, dt.datetime(2026, 12, 4, 0, 0, tzinfo=dt.UTC), WITA)  # 08:00 WITA
