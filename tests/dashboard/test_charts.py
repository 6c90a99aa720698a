"""The weekly chart's time axis: one labelled tick per week start over a few months."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl

from dashboard.charts import weekly_bars


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
