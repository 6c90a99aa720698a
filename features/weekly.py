"""The weekly table: per participant and local week, MVPA minutes counted once, and wear.

Pipeline (all polars, no loops over rows):

1. ``features.classify``: each minute row gets a level by the configured methods.
2. ``features.combine``: sources are combined per UTC quarter-hour as bit sets,
   so each minute counts once at the highest level any trusted source gives it.
3. ``features.local_time``: quarter-hours get a local date and week.
4. ``features.daily``: per local day, minutes are counted and device daily
   totals fill days without any classified minute.
5. here: days are summed into weeks. The status (met / below / insufficient)
   is the model's: ``models.weekly_status.with_status`` adds it, once, in derive.

Weeks are only produced where a participant has data: a minute row of a
trusted source or a daily-totals row. A week with no data at all has no row
(there is nothing to say about it; the dashboard shows it as a gap), while a
week with some data and too little wear is ``insufficient``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import polars as pl

from config.schema import WEEKLY
from config.study import StudyConfig
from features.classify import METHODS, heart_rate_limits
from features.combine import combine_quarters, count_bits, method_names, source_names
from features.daily import days_from_quarters, fill_from_daily_totals, finish_days
from features.local_time import localize_quarters
from features.scope import keep_requested, restrict_daily_totals, restrict_minutes

WEEKLY_COLUMNS: dict[str, pl.DataType] = dict(pl.from_arrow(WEEKLY.empty_table()).schema)  # type: ignore[union-attr]
"""Polars names and types of ``config.schema.WEEKLY``, derived from it, in its order."""

MINUTE_COLUMNS: dict[str, pl.DataType] = {c: t for c, t in WEEKLY_COLUMNS.items() if c != "status"}
"""The weekly frame features computes: every ``WEEKLY`` column but the model's ``status``."""


def _restricted(
    minutes: pl.LazyFrame, daily_totals: pl.LazyFrame, only: pl.DataFrame | None
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    if only is None:
        return minutes, daily_totals
    return restrict_minutes(minutes, only), restrict_daily_totals(daily_totals, only)


def limits_of(
    minutes: pl.LazyFrame,
    daily_totals: pl.LazyFrame | None,
    profiles: pl.LazyFrame,
    roster: pl.DataFrame,
) -> pl.LazyFrame:
    """Heart-rate-reserve parameters and their provenance per participant (``classify.heart_rate_limits``)."""
    return heart_rate_limits(profiles, roster, daily_totals, minutes)


def localized_quarters(
    minutes: pl.LazyFrame,
    profiles: pl.LazyFrame,
    roster: pl.DataFrame,
    config: StudyConfig,
    limits: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Combined quarter-hours with local time and week (steps 1 to 3).

    The combined quarter-hours are materialized once: they are 15 times smaller
    than the minute rows, and ``localize_quarters`` reads them more than once.
    """
    quarters = combine_quarters(minutes, profiles, roster, config, limits=limits)
    return localize_quarters(quarters.lazy(), roster, config)


def _days(
    localized: pl.LazyFrame, daily_totals: pl.LazyFrame, roster: pl.DataFrame, config: StudyConfig
) -> pl.LazyFrame:
    """Step 4: the internal daily frame (``features.daily.DAILY_COLUMNS``) from localized quarters."""
    days = days_from_quarters(localized)
    return finish_days(fill_from_daily_totals(days, daily_totals, roster, config), config)


def _daily(
    minutes: pl.LazyFrame,
    daily_totals: pl.LazyFrame,
    profiles: pl.LazyFrame,
    roster: pl.DataFrame,
    config: StudyConfig,
    only: pl.DataFrame | None,
) -> pl.LazyFrame:
    """Steps 1 to 4: the daily table as a lazy frame (combined quarters already materialized)."""
    minutes, daily_totals = _restricted(minutes, daily_totals, only)
    limits = limits_of(minutes, daily_totals, profiles, roster)
    return _days(
        localized_quarters(minutes, profiles, roster, config, limits), daily_totals, roster, config
    )


def _decoded_days(days: pl.LazyFrame, config: StudyConfig) -> pl.LazyFrame:
    """The daily table's public form: provenance bit sets decoded into names."""
    return days.with_columns(
        source_names(config).alias("sources"), method_names(config).alias("methods")
    ).drop("source_bits", "method_bits", "classified_minutes", *(f"{m}_minutes" for m in METHODS))


def daily_table(
    minutes: pl.LazyFrame,
    daily_totals: pl.LazyFrame,
    profiles: pl.LazyFrame,
    roster: pl.DataFrame,
    config: StudyConfig,
    *,
    only: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Per participant and local day: moderate, vigorous, mvpa and wear minutes, ``valid``,
    ``filled_from_daily_totals``, the week the day belongs to, and provenance
    ``sources``/``methods`` as in the weekly table. For the dashboard and for checks.
    """
    days = _daily(minutes, daily_totals, profiles, roster, config, only)
    out = _decoded_days(days, config).collect().sort("participant_id", "local_date")
    return out if only is None else keep_requested(out, only)


def _hours(localized: pl.LazyFrame) -> pl.LazyFrame:
    return localized.group_by(
        "participant_id",
        "local_date",
        "week_start",
        pl.col("local_start").dt.hour().cast(pl.Int8).alias("hour"),
    ).agg(count_bits("worn_bits").sum().alias("wear_minutes"))


def hourly_wear(
    minutes: pl.LazyFrame, profiles: pl.LazyFrame, roster: pl.DataFrame, config: StudyConfig
) -> pl.DataFrame:
    """Worn minutes per participant, local date and local hour (0-23), for a day-by-hour heat map.

    Only hours with minute rows appear. In the autumn DST change the repeated
    local hour holds up to 120 minutes.
    """
    return (
        _hours(localized_quarters(minutes, profiles, roster, config))
        .drop("week_start")
        .sort("participant_id", "local_date", "hour")
        .collect()
    )


class WeekTables(NamedTuple):
    """The derived tables of one set of participant-weeks."""

    weekly: pl.DataFrame
    daily: pl.DataFrame
    hourly_wear: pl.DataFrame


def week_tables(
    minutes: pl.LazyFrame,
    daily_totals: pl.LazyFrame,
    profiles: pl.LazyFrame,
    roster: pl.DataFrame,
    config: StudyConfig,
    *,
    config_hash: str,
    only: pl.DataFrame | None = None,
) -> WeekTables:
    """``weekly_table``, ``daily_table`` and ``hourly_wear`` from one pass over the minute rows.

    Classifying and combining the minute rows is nearly all of the cost, and
    the three tables share it: a pipeline run that writes all three should
    call this rather than the three functions. With ``only``, the daily and
    hourly rows are those of the requested weeks' days.
    """
    minutes, daily_totals = _restricted(minutes, daily_totals, only)
    limits = limits_of(minutes, daily_totals, profiles, roster)
    localized = localized_quarters(minutes, profiles, roster, config, limits).collect()
    days = _days(localized.lazy(), daily_totals, roster, config).collect()
    weekly = weeks_from_days(days.lazy(), config, config_hash=config_hash, limits=limits).collect()
    daily = _decoded_days(days.lazy(), config).collect()
    hourly = _hours(localized.lazy()).collect()
    if only is not None:
        weekly, daily, hourly = (keep_requested(t, only) for t in (weekly, daily, hourly))
    return WeekTables(
        weekly.sort("participant_id", "week_start"),
        daily.sort("participant_id", "local_date"),
        hourly.drop("week_start").sort("participant_id", "local_date", "hour"),
    )


def weeks_from_days(
    daily: pl.LazyFrame,
    config: StudyConfig,
    *,
    config_hash: str,
    limits: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Sum a daily table into the weekly frame (``MINUTE_COLUMNS``; ``models`` scores it).

    ``sources`` lists the trusted sources with rows in the week (minute rows, or
    daily totals that filled a day) in precedence order; ``methods`` the methods
    that classified at least one minute, in the configured order. ``hr_params``
    is the participant's parameter provenance from ``limits`` where heart rate
    classified a minute of the week, else ``none``; ``share_<method>`` is the
    method's minutes over the week's classified minutes (null when none was
    classified; a minute two sources classified by different methods counts
    under both, so shares can add up to more than 1).
    """
    classified = pl.col("classified_minutes")

    def share(method: str) -> pl.Expr:
        return (
            pl.when(classified > 0)
            .then(pl.col(f"{method}_minutes") / classified)
            .alias(f"share_{method}")
        )

    weeks = daily.group_by("participant_id", "week_start").agg(
        pl.col("moderate_minutes").sum(),
        pl.col("vigorous_minutes").sum(),
        pl.col("mvpa_minutes").sum(),
        pl.col("wear_minutes").sum(),
        pl.col("valid").sum().alias("valid_days"),
        pl.col("filled_from_daily_totals").sum().alias("from_daily_totals"),
        pl.col("classified_minutes").sum(),
        *(pl.col(f"{m}_minutes").sum() for m in METHODS),
        pl.col("source_bits").bitwise_or(),
        pl.col("method_bits").bitwise_or(),
    )
    if limits is not None:
        weeks = weeks.join(
            limits.select("participant_id", "hr_params"), on="participant_id", how="left"
        )
    else:
        weeks = weeks.with_columns(pl.lit(None, pl.String).alias("hr_params"))
    used_heart_rate = (pl.col("method_bits") & (1 << METHODS.index("heart_rate"))) != 0
    return weeks.with_columns(
        source_names(config).alias("sources"),
        method_names(config).alias("methods"),
        pl.lit(config_hash).alias("config_hash"),
        (pl.col("moderate_minutes") + 2 * pl.col("vigorous_minutes")).alias(
            "moderate_equivalent_minutes"
        ),
        pl.when(used_heart_rate)
        .then(pl.col("hr_params").fill_null("none"))
        .otherwise(pl.lit("none"))
        .alias("hr_params"),
        *(share(m) for m in METHODS),
    ).select(pl.col(name).cast(dtype) for name, dtype in MINUTE_COLUMNS.items())


def weekly_table(
    minutes: pl.LazyFrame,
    daily_totals: pl.LazyFrame,
    profiles: pl.LazyFrame,
    roster: pl.DataFrame,
    config: StudyConfig,
    *,
    config_hash: str,
    only: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """The weekly frame (``MINUTE_COLUMNS``: ``WEEKLY`` without status), sorted by participant and week.

    ``minutes``, ``daily_totals`` and ``profiles`` follow the canonical schemas;
    ``roster`` is ``config.roster.ROSTER_SCHEMA``. With ``only`` (columns
    ``participant_id, week_start``) just those participant-weeks are computed,
    reading only the rows that can affect them.
    """
    minutes, daily_totals = _restricted(minutes, daily_totals, only)
    limits = limits_of(minutes, daily_totals, profiles, roster)
    daily = _days(
        localized_quarters(minutes, profiles, roster, config, limits), daily_totals, roster, config
    )
    weekly = (
        weeks_from_days(daily, config, config_hash=config_hash, limits=limits)
        .collect()
        .sort("participant_id", "week_start")
    )
    return weekly if only is None else keep_requested(weekly, only)


def weekly_table_in_batches(
    minutes: pl.LazyFrame,
    daily_totals: pl.LazyFrame,
    profiles: pl.LazyFrame,
    roster: pl.DataFrame,
    config: StudyConfig,
    *,
    config_hash: str,
    batch_participants: int,
) -> pl.DataFrame:
    """``weekly_table`` computed ``batch_participants`` participants at a time.

    Weeks never span participants, so the result is identical; peak memory
    follows the rows of one batch instead of the whole study (a backfill of
    1,000 participants x 365 days). Each batch filters the scans by
    participant, which Parquet statistics turn into skipped row groups when
    the files are written per participant or sorted by participant.
    """
    ids = (
        pl.concat(
            [
                minutes.select("participant_id").unique(),
                daily_totals.select("participant_id").unique(),
                roster.lazy().select("participant_id"),
            ]
        )
        .unique()
        .collect(engine="streaming")  # never hold the whole participant_id column
        .get_column("participant_id")
        .sort()
        .to_list()
    )
    parts = []
    for first in range(0, len(ids), batch_participants):
        chosen = pl.col("participant_id").is_in(ids[first : first + batch_participants])
        parts.append(
            weekly_table(
                minutes.filter(chosen),
                daily_totals.filter(chosen),
                profiles.filter(chosen),
                roster,
                config,
                config_hash=config_hash,
            )
        )
    if not parts:
        return pl.DataFrame(schema=MINUTE_COLUMNS)
    return pl.concat(parts).sort("participant_id", "week_start")


class Inputs(NamedTuple):
    """The canonical frames the weekly rules read, for some participants."""

    minutes: pl.LazyFrame
    daily_totals: pl.LazyFrame
    profiles: pl.LazyFrame


def week_tables_in_batches(
    inputs_of: Callable[[list[str]], Inputs],
    participant_ids: Sequence[str],
    roster: pl.DataFrame,
    config: StudyConfig,
    *,
    config_hash: str,
    batch_participants: int,
) -> WeekTables:
    """``week_tables`` of every participant in ``participant_ids``, ``batch_participants`` at a time.

    ``inputs_of(ids)`` gives the frames of just those participants; a lake
    partitioned by participant answers it by listing their parts only, so
    each batch reads its own files and peak memory follows one batch. Weeks
    never span participants, so the tables equal one ``week_tables`` call.
    """
    ids = sorted(set(participant_ids))
    parts = [
        week_tables(
            *inputs_of(ids[first : first + batch_participants]),
            roster,
            config,
            config_hash=config_hash,
        )
        for first in range(0, len(ids), batch_participants)
    ] or [week_tables(*inputs_of([]), roster, config, config_hash=config_hash)]
    return concat_week_tables(parts)


def concat_week_tables(parts: Sequence[WeekTables]) -> WeekTables:
    """The tables of several disjoint sets of participants as one, in the tables' own order.

    Weeks never span participants, so the tables of participant shards
    computed apart (in batches here, or on Dask workers) concatenate to the
    tables of one call over everyone. ``parts`` must not be empty.
    """
    return WeekTables(
        pl.concat([p.weekly for p in parts]).sort("participant_id", "week_start"),
        pl.concat([p.daily for p in parts]).sort("participant_id", "local_date"),
        pl.concat([p.hourly_wear for p in parts]).sort("participant_id", "local_date", "hour"),
    )
