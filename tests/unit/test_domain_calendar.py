from datetime import date, timedelta

import chinese_calendar as cc
import pytest

from fengqiao.domain.calendar import CalendarError, load_calendar

pytestmark = pytest.mark.unit


def test_agrees_with_chinesecalendar_on_every_day_it_knows():
    cal = load_calendar()
    d = date(2004, 1, 1)
    while d <= date(2026, 12, 31):
        assert cal.is_workday(d) == cc.is_workday(d), d
        assert not cal.is_estimated(d)
        d += timedelta(days=1)


def test_real_coverage_is_probed_not_assumed():
    cal = load_calendar()
    assert {2004, 2026} <= cal.known_years
    with pytest.raises(NotImplementedError):
        cc.is_workday(date(2027, 1, 4))
    assert 2027 not in cal.known_years


def test_unknown_year_falls_back_to_monday_friday_and_is_flagged():
    cal = load_calendar()
    fri, sat = date(2027, 1, 1), date(2027, 1, 2)
    assert cal.is_workday(fri) and not cal.is_workday(sat)
    assert cal.is_estimated(fri) and cal.is_estimated(sat)
    assert cal.nth_workday_after(date(2026, 12, 31), 1) == (fri, True)
    assert cal.nth_workday_after(date(2026, 12, 28), 2) == (date(2026, 12, 30), False)


def test_holiday_and_makeup_days_2026():
    cal = load_calendar()
    assert not cal.is_workday(date(2026, 10, 1)) and not cal.is_workday(date(2026, 10, 7))
    assert cal.is_workday(date(2026, 10, 10))  # make-up Saturday
    assert cal.is_workday(date(2026, 2, 14)) and cal.is_workday(date(2026, 2, 28))
    assert not cal.is_workday(date(2026, 2, 16))


def test_override_file_makes_a_year_known_and_overrides_the_package(tmp_path):
    f = tmp_path / "ovr.toml"
    f.write_text('[2027]\nholidays = [2027-01-01, "2027-02-10"]\nworkdays = [2027-02-06]\n'
                 '[2026]\nholidays = [2026-12-31]\n', "utf-8")
    cal = load_calendar(f)
    assert 2027 in cal.known_years
    assert not cal.is_workday(date(2027, 1, 1)) and not cal.is_estimated(date(2027, 1, 1))
    assert not cal.is_workday(date(2027, 2, 10))
    assert cal.is_workday(date(2027, 2, 6))  # a Saturday made a workday
    assert cal.is_workday(date(2027, 1, 4))  # plain Monday of a known year
    assert not cal.is_workday(date(2026, 12, 31))  # overrides the package
    assert cal.nth_workday_after(date(2026, 12, 30), 1) == (date(2027, 1, 4), False)


def test_empty_year_table_is_known_plain_monday_to_friday(tmp_path):
    f = tmp_path / "ovr.toml"
    f.write_text("[2028]\n", "utf-8")
    cal = load_calendar(f)
    assert cal.is_workday(date(2028, 1, 3)) and not cal.is_estimated(date(2028, 1, 3))


@pytest.mark.parametrize("text, field", [
    ("[20x7]\nholidays = []\n", "20x7"),
    ("[2027]\nholidays = [2027-13-01]\n", "(syntax)"),
    ('[2027]\nholidays = ["soon"]\n', "2027.holidays[0]"),
    ("[2027]\nholidays = [2028-01-01]\n", "2027.holidays[0]"),
    ("[2027]\nrest = []\n", "2027.rest"),
    ("[2027]\nholidays = 3\n", "2027.holidays"),
    ("[2027]\nholidays = [2027-01-01]\nworkdays = [2027-01-01]\n", "2027"),
])
def test_malformed_override_names_path_and_field(tmp_path, text, field):
    f = tmp_path / "bad.toml"
    f.write_text(text, "utf-8")
    with pytest.raises(CalendarError) as exc:
        load_calendar(f)
    assert exc.value.field == field
    assert str(f) in str(exc.value) and "节假日" in str(exc.value)


def test_missing_override_file_is_an_error(tmp_path):
    with pytest.raises(CalendarError, match="cannot read"):
        load_calendar(tmp_path / "nope.toml")
