"""Altair charts of the dashboard, readable without colour.

Every distinction that colour carries is also carried by something else: the
two intensities differ strongly in lightness and are labelled in the legend and
tooltip, week status is a point *shape*, the threshold is a dashed rule with a
text label, and the interval of the cohort share is a band plus whisker rules.
"""

from __future__ import annotations

from datetime import date

import altair as alt
import polars as pl

INK = "#222222"
MODERATE = "#9ecae1"  # light
VIGOROUS = "#08306b"  # dark: the pair differs in lightness, not only hue
STATUS_SHAPES = {"met": "circle", "below": "triangle-down", "insufficient": "cross"}


def _threshold_rule(threshold: int, axis: str, label: str) -> alt.LayerChart:
    """A dashed threshold line with a text label (the label is literal in the spec).

    Line and label sit on a white halo, so they stay readable where they cross
    the dark vigorous bars of a participant well above the threshold.
    """
    one = pl.DataFrame({"threshold": [threshold]})
    halo_rule = alt.Chart(one).mark_rule(color="white", strokeWidth=6)
    rule = alt.Chart(one).mark_rule(color=INK, strokeDash=[6, 4], strokeWidth=2)
    if axis == "y":
        place = {"align": "right", "dx": -4, "dy": -7}
        where = {"y": alt.datum(threshold), "x": alt.value("width")}
        line = {"y": alt.datum(threshold)}
    else:
        place = {"align": "left", "dx": 4, "dy": -6}
        where = {"x": alt.datum(threshold), "y": alt.value(8)}
        line = {"x": alt.datum(threshold)}
    text = {"text": label, "fontWeight": "bold", **place}
    halo_text = alt.Chart(one).mark_text(
        **text, color="white", stroke="white", strokeWidth=4, strokeJoin="round"
    )
    ink_text = alt.Chart(one).mark_text(**text, color=INK)
    return alt.layer(
        halo_rule.encode(**line),
        rule.encode(**line),
        halo_text.encode(**where),
        ink_text.encode(**where),
    )


def _span_days(week_starts: pl.Series) -> int:
    """Days from the first week's start to the last week's end (0 without weeks)."""
    first: date | None = week_starts.min()  # type: ignore[assignment]
    last: date | None = week_starts.max()  # type: ignore[assignment]
    return (last - first).days + 7 if first is not None and last is not None else 0


def _week_axis(week_starts: pl.Series) -> alt.Axis:
    """A time axis for weekly marks: over up to 200 days a labelled tick on every week start.

    Dates reach Vega-Lite as "YYYY-MM-DDT00:00:00", which the browser reads as
    its own midnight, so ticks and labels use the same local time. Automatic
    ticks fall every few days, between the weeks' marks; longer studies keep
    them, labelled by month.
    """
    short = _span_days(week_starts) <= 200
    ticks = [alt.DateTime(year=d.year, month=d.month, date=d.day) for d in week_starts.to_list()]
    label_format = "%Y-%m-%d" if short else "%b %Y"
    return alt.Axis(
        values=ticks if short else alt.Undefined,
        labelExpr=f"timeFormat(datum.value, '{label_format}')",
        labelAngle=-45,
        labelOverlap="greedy",
    )


def weekly_bars(weeks: pl.DataFrame, threshold: int) -> alt.LayerChart:
    """Stacked moderate/vigorous minutes per week on a time axis (a gap in the data shows as a gap),
    the threshold line, and the week status as shapes."""
    weeks = weeks.sort("week_start").with_columns(
        week_end=pl.col("week_start") + pl.duration(days=7),
        middle=pl.col("week_start") + pl.duration(days=3, hours=12),
    )
    long = (
        weeks.select("week_start", "week_end", "moderate_minutes", "vigorous_minutes", "status")
        .unpivot(
            index=["week_start", "week_end", "status"],
            variable_name="intensity",
            value_name="minutes",
        )
        .with_columns(pl.col("intensity").str.replace("_minutes", ""))
    )
    span_days = _span_days(weeks["week_start"])
    week_axis = alt.X("week_start:T", title="week starting", axis=_week_axis(weeks["week_start"]))
    bars = (
        alt.Chart(long)
        .mark_bar(stroke="white", strokeWidth=1)
        .encode(
            x=week_axis,
            x2="week_end:T",
            y=alt.Y("sum(minutes):Q", title="minutes per week"),
            color=alt.Color(
                "intensity:N",
                scale=alt.Scale(domain=["moderate", "vigorous"], range=[MODERATE, VIGOROUS]),
                legend=alt.Legend(title="intensity", orient="top"),
            ),
            order=alt.Order("intensity:N", sort="descending"),
            tooltip=[
                alt.Tooltip("week_start:T", title="week"),
                "intensity:N",
                "minutes:Q",
                "status:N",
            ],
        )
    )
    totals = weeks.select(
        "week_start",
        "middle",
        "status",
        total=pl.col("moderate_minutes") + pl.col("vigorous_minutes"),
    )
    status = (
        alt.Chart(totals)
        .mark_point(size=70 if span_days <= 400 else 25, filled=False, color=INK, strokeWidth=1.5)
        .encode(
            x=alt.X("middle:T"),
            y=alt.Y("total:Q"),
            yOffset=alt.value(-10),
            shape=alt.Shape(
                "status:N",
                scale=alt.Scale(domain=list(STATUS_SHAPES), range=list(STATUS_SHAPES.values())),
                legend=alt.Legend(title="week status", orient="top"),
            ),
            tooltip=[alt.Tooltip("week_start:T", title="week"), "status:N", "total:Q"],
        )
    )
    rule = _threshold_rule(threshold, "y", f"{threshold} min/week threshold")
    return alt.layer(bars, status, rule).resolve_scale(color="independent").properties(height=320)


def wear_heatmap(hourly: pl.DataFrame, zone: str) -> alt.Chart:
    """Wear minutes per local day (rows) and hour (columns): a single-hue lightness scale."""
    days = hourly.with_columns(day=pl.col("local_date").dt.strftime("%a %Y-%m-%d"))
    return (
        alt.Chart(days)
        .mark_rect(stroke="white", strokeWidth=0.5)
        .encode(
            x=alt.X(
                "hour:O",
                title=f"hour of day ({zone})",
                axis=alt.Axis(labelAngle=0),
                scale=alt.Scale(domain=list(range(24))),
            ),
            y=alt.Y(
                "day:O",
                title="local day",
                sort=alt.EncodingSortField("local_date"),
                axis=alt.Axis(labelOverlap=False, labelFontSize=10),
            ),
            color=alt.Color(
                "wear_minutes:Q",
                scale=alt.Scale(scheme="greys", domain=[0, 60]),
                legend=alt.Legend(title="worn min/hour"),
            ),
            tooltip=[
                alt.Tooltip("day:O", title="day"),
                "hour:O",
                alt.Tooltip("wear_minutes:Q", title="worn min"),
            ],
        )
        .properties(height=alt.Step(18))
    )


def share_trend(cohort: pl.DataFrame) -> alt.LayerChart:
    """Weekly share of sufficient-wear participants meeting the hour, with its interval."""
    base = alt.Chart(cohort).encode(
        x=alt.X("week_start:T", title="week starting", axis=_week_axis(cohort["week_start"]))
    )
    band = base.mark_area(opacity=0.2, color=INK).encode(
        y=alt.Y(
            "ci_low:Q",
            title="share meeting the hour",
            axis=alt.Axis(format="%"),
            scale=alt.Scale(domain=[0, 1]),
        ),
        y2="ci_high:Q",
    )
    short = cohort.height <= 26  # whiskers and points on every week only while they stay apart
    whiskers = base.mark_rule(color=INK, opacity=0.6).encode(y="ci_low:Q", y2="ci_high:Q")
    point = alt.OverlayMarkDef(filled=True, color=INK, size=40) if short else False
    line = base.mark_line(color=INK, point=point).encode(
        y="share_met:Q",
        tooltip=[
            alt.Tooltip("week_start:T", title="week"),
            alt.Tooltip("share_met:Q", format=".0%", title="share met"),
            alt.Tooltip("ci_low:Q", format=".0%", title="interval low"),
            alt.Tooltip("ci_high:Q", format=".0%", title="interval high"),
            alt.Tooltip("n_met:Q", title="met"),
            alt.Tooltip("n_sufficient:Q", title="with sufficient wear"),
        ],
    )
    layers = [band, whiskers, line] if short else [band, line]
    return alt.layer(*layers).properties(height=260)


def minutes_distribution(
    week: pl.DataFrame, threshold: int, bin_minutes: int = 15
) -> alt.LayerChart:
    """Histogram of one week's minutes per participant, with the threshold line.

    Bins are ``bin_minutes`` wide, widened in steps of 15 so there are at most
    about 30 of them however long the tail; axis labels drop rather than overlap.
    """
    top = int(week["mvpa_minutes"].max() or 0) if week.height else 0  # type: ignore[arg-type]
    while top / bin_minutes > 30:
        bin_minutes += 15
    bars = (
        alt.Chart(week)
        .mark_bar(color="#6b6b6b", stroke="white")
        .encode(
            x=alt.X(
                "mvpa_minutes:Q",
                bin=alt.Bin(step=bin_minutes),
                title="moderate + vigorous minutes this week",
                axis=alt.Axis(labelOverlap="greedy", labelFlush=True),
            ),
            y=alt.Y("count():Q", title="participants", axis=alt.Axis(tickMinStep=1, format="d")),
            tooltip=[alt.Tooltip("count():Q", title="participants")],
        )
    )
    rule = _threshold_rule(threshold, "x", f"{threshold} min threshold")
    return alt.layer(bars, rule).properties(height=260)


def files_by_status(files: pl.DataFrame) -> alt.LayerChart:
    """Number of files per status, as labelled horizontal bars."""
    per_status = files.group_by("status").agg(pl.col("files").sum()).sort("files", descending=True)
    base = alt.Chart(per_status).encode(
        y=alt.Y("status:N", sort="-x", title="file status"),
        x=alt.X("files:Q", title="files", axis=alt.Axis(tickMinStep=1, format="d")),
    )
    return alt.layer(
        base.mark_bar(color="#6b6b6b"),
        base.mark_text(align="left", dx=3, color=INK).encode(text="files:Q"),
    ).properties(height=alt.Step(28))
