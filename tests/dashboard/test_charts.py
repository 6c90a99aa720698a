"""The weekly chart's time axis: one labelled tick per week start over a few months."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from dashboard.charts import share_trend, weekly_bars


def _weeks(first: date, count: int) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "week_start": [first + timedelta(weeks=i) for i in range(count)],
            "moderate_minutes": [40 + i for i in range(count)],
            "vigorous_minutes": [10] * count,
            "status": ["below"] * count,
        }
    )


def _week_axis(weeks: pl.DataFrame) -> dict:
    spec = weekly_bars(weeks, 60).to_dict()
    return spec["layer"][0]["encoding"]["x"]["axis"]


def test_a_few_months_get_a_tick_on_every_week_start_labelled_with_its_date() -> None:
    axis = _week_axis(_weeks(date(2026, 3, 2), 8))
    ticks = [date(v["year"], v["month"], v["date"]) for v in axis["values"]]
    assert ticks == [date(2026, 3, 2) + timedelta(weeks=i) for i in range(8)]
    # Local time on both sides: Vega-Lite reads the dates as the browser's midnight.
    assert all("utc" not in v for v in axis["values"])
    assert axis["labelExpr"] == "timeFormat(datum.value, '%Y-%m-%d')"


def test_a_long_study_leaves_ticks_to_vega_and_labels_months() -> None:
    axis = _week_axis(_weeks(date(2025, 1, 6), 52))
    assert "values" not in axis
    assert axis["labelExpr"] == "timeFormat(datum.value, '%b %Y')"


def test_the_cohort_share_trend_ticks_its_week_starts_too() -> None:
    starts = [date(2026, 3, 2) + timedelta(weeks=i) for i in range(6)]
    cohort = pl.DataFrame(
        {
            "week_start": starts,
            "share_met": [0.5] * 6,
            "ci_low": [0.2] * 6,
            "ci_high": [0.8] * 6,
            "n_met": [1] * 6,
            "n_sufficient": [2] * 6,
        }
    )
    spec = share_trend(cohort).to_dict()
    axis = spec["layer"][0]["encoding"]["x"]["axis"]  # every layer shares the week axis
    assert [date(v["year"], v["month"], v["date"]) for v in axis["values"]] == starts
