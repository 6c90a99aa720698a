"""Minute intensity: the first configured method that applies classifies each minute.

The methods, tried in the order of ``[intensity] methods``:

``device``
    the device's own label (sedentary, light, moderate, vigorous).
``heart_rate``
    percent of heart-rate reserve (Karvonen): ``100 * (hr - rest) / (max - rest)``;
    moderate from ``hrr_moderate_percent``, vigorous from ``hrr_vigorous_percent``.
    Resting HR comes from the roster, else the latest device profile, else the
    device's daily resting HR, else an estimate from the participant's own
    minutes; maximum HR from the roster, else the latest device profile, else
    Tanaka ``208 - 0.7 * age`` with age from the roster's birth year (else the
    birth year of the export's own account profile, else the device profile's age). ``heart_rate_limits`` records which (``hr_params``).
``cadence``
    steps per minute; moderate from ``cadence_moderate_steps_per_minute``, vigorous
    from ``cadence_vigorous_steps_per_minute``.
``mets``
    the device's MET value; moderate from ``mets_moderate``, vigorous from ``mets_vigorous``.

The result is an ordinal ``level`` (the index in ``config.schema.INTENSITY_LEVELS``:
0 sedentary, 1 light, 2 moderate, 3 vigorous) and the ``method`` that set it.
Heart rate, cadence and METs only separate moderate and vigorous from "below
moderate", which they report as light (1): the score needs nothing finer. A
minute no configured method can classify keeps a null level and counts as
neither moderate nor vigorous.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import polars as pl

from config.schema import INTENSITY_LEVELS
from config.study import StudyConfig

METHODS: tuple[str, ...] = ("device", "heart_rate", "cadence", "mets")
"""Every classification method; a method's code is its index here."""

LIGHT, MODERATE, VIGOROUS = 1, 2, 3
"""Level codes used by the threshold methods (indices into INTENSITY_LEVELS)."""

TANAKA_INTERCEPT_BPM = 208.0
TANAKA_SLOPE_BPM_PER_YEAR = 0.7
"""Tanaka, Monahan & Seals 2001: maximum heart rate = 208 - 0.7 x age."""


RESTING_PERCENTILE = 0.05
"""Quantile of a participant's own minute heart rates taken as resting HR when nothing better exists."""
MIN_ESTIMATE_MINUTES = 600
"""Heart-rate minutes a participant needs before a resting HR is estimated from them."""

HR_PARAMS: tuple[str, ...] = ("roster", "device", "estimated", "none")
"""Where a participant-week's heart-rate-reserve parameters came from, best first."""


def _latest_profiles(profiles: pl.LazyFrame) -> pl.LazyFrame:
    """Per participant: the latest non-null resting HR, maximum HR and birth year the devices reported.

    The birth year is the one an account profile states (``birth_year``: Fitbit ``Profile.csv``,
    Garmin ``user_profile.json``), else the year of the latest device age (``age_years`` at
    ``observed_utc``: FIT ``user_profile``, Apple Health ``<Me>``).
    """
    return (
        profiles.select(
            "participant_id",
            "observed_utc",
            pl.col("resting_heart_rate_bpm").cast(pl.Float64).alias("profile_rest"),
            pl.col("max_heart_rate_bpm").cast(pl.Float64).alias("profile_max"),
            (pl.col("observed_utc").dt.year() - pl.col("age_years").cast(pl.Int32)).alias(
                "age_birth_year"
            ),
            pl.col("birth_year").cast(pl.Int32).alias("stated_birth_year"),
        )
        .sort("participant_id", "observed_utc", nulls_last=False)
        .group_by("participant_id")
        .agg(
            pl.col("profile_rest").drop_nulls().last(),
            pl.col("profile_max").drop_nulls().last(),
            pl.col("stated_birth_year").drop_nulls().last(),
            pl.col("age_birth_year").drop_nulls().last(),
        )
        # A birth year the profile states beats one derived from an age at a date (off by one
        # for anyone whose birthday falls after that date in the year).
        .select(
            "participant_id",
            "profile_rest",
            "profile_max",
            pl.coalesce("stated_birth_year", "age_birth_year").alias("profile_birth_year"),
        )
    )


def _daily_resting(daily_totals: pl.LazyFrame | None) -> pl.LazyFrame:
    """Per participant: the median of the device's own daily resting HR (Fitbit, Garmin UDS), 20-220 bpm."""
    if daily_totals is None:
        return pl.LazyFrame(schema={"participant_id": pl.String, "daily_rest": pl.Float64})
    rest = pl.col("resting_heart_rate_bpm").cast(pl.Float64)
    return (
        daily_totals.select("participant_id", rest.alias("daily_rest"))
        .filter(pl.col("daily_rest").is_between(20, 220))
        .group_by("participant_id")
        .agg(pl.col("daily_rest").median())
    )


def estimated_resting(minutes: pl.LazyFrame, participants: list[str]) -> pl.DataFrame:
    """Resting HR estimated from each participant's own minute heart rates: their 5th percentile.

    Used only where neither the roster nor any device gives a resting HR. The
    lowest sustained heart rates of a wrist device are those of sleep and
    quiet rest, so a low percentile over all of a participant's minutes sits
    near what devices report as resting HR without needing to know when they
    slept; the 5th rather than the minimum keeps artefacts out. Needs
    ``MIN_ESTIMATE_MINUTES`` plausible (20-220 bpm) minutes.

    The participants are chosen after aggregating, not before: a per-row
    ``is_in`` on the string id cost as much as the whole aggregate (0.25 of
    0.5 CPU-s on 10 M rows). The quantile is taken on the stored type and then
    widened: a "nearest" quantile picks one of the values, and widening a
    float is exact and keeps the order, so the result is the same.
    """
    hr = pl.col("heart_rate_bpm")
    return (
        minutes.filter(hr.is_between(20, 220))
        .group_by("participant_id")
        .agg(
            hr.quantile(RESTING_PERCENTILE, "nearest").cast(pl.Float64).alias("estimated_rest"),
            pl.len().alias("n"),
        )
        .filter(
            pl.col("participant_id").is_in(participants) & (pl.col("n") >= MIN_ESTIMATE_MINUTES)
        )
        .select("participant_id", "estimated_rest")
        .collect()
    )


def heart_rate_limits(
    profiles: pl.LazyFrame,
    roster: pl.DataFrame,
    daily_totals: pl.LazyFrame | None = None,
    minutes: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Per participant: ``resting_hr``, ``max_hr``, ``tanaka_intercept_bpm`` and ``hr_params``.

    Resting HR: the roster, else the latest device profile (FIT ``user_profile``
    or monitoring resting HR), else the median of the device's daily resting
    HR (``daily_totals``), else an estimate from the participant's own minutes
    (``estimated_resting``, only when ``minutes`` is given and a maximum HR is
    known). Maximum HR: the roster, else the latest device profile, else
    Tanaka ``208 - 0.7 x age`` with the birth year from the roster, else from
    the export's account profile (``birth_year``), else from the device profile's age. ``tanaka_intercept_bpm`` is
    ``208 + 0.7 * birth_year``, so that ``tanaka_intercept_bpm - 0.7 * year``
    is Tanaka's maximum at a calendar year.

    ``hr_params`` names the weakest source the pair came from: ``roster``
    (both from the roster, Tanaka from its birth year included), ``device``,
    ``estimated`` (resting HR estimated from the minutes), or ``none`` (no
    usable pair: the heart-rate method cannot apply). The result is small and
    collected.
    """
    base = _limit_candidates(profiles, roster, daily_totals)
    estimates = _estimated_rest_where_needed(base, minutes)
    birth_year = pl.coalesce(
        pl.col("birth_year").cast(pl.Float64), pl.col("profile_birth_year").cast(pl.Float64)
    )
    rest_from, max_from = _resting_source(), _maximum_source()
    weakest = pl.max_horizontal(rest_from, max_from)
    label = pl.lit("none")
    for code in (2, 1, 0):
        label = pl.when(weakest == code).then(pl.lit(HR_PARAMS[code])).otherwise(label)
    return (
        base.join(estimates, on="participant_id", how="left")
        .select(
            "participant_id",
            pl.coalesce("resting_hr", "profile_rest", "daily_rest", "estimated_rest").alias(
                "resting_hr"
            ),
            pl.coalesce("max_hr", "profile_max").alias("max_hr"),
            (TANAKA_INTERCEPT_BPM + TANAKA_SLOPE_BPM_PER_YEAR * birth_year).alias(
                "tanaka_intercept_bpm"
            ),
            pl.when(rest_from.is_not_null() & max_from.is_not_null())
            .then(label)
            .otherwise(pl.lit("none"))
            .alias("hr_params"),
        )
        .lazy()
    )


def _limit_candidates(
    profiles: pl.LazyFrame, roster: pl.DataFrame, daily_totals: pl.LazyFrame | None
) -> pl.DataFrame:
    """Per participant known anywhere, every candidate: the roster's values, the latest device profile's, the daily resting median."""
    latest = _latest_profiles(profiles)
    people = roster.lazy().select("participant_id", "birth_year", "resting_hr", "max_hr")
    daily = _daily_resting(daily_totals)
    ids = pl.concat(
        [
            latest.select("participant_id"),
            people.select("participant_id"),
            daily.select("participant_id"),
        ]
    ).unique()
    return (
        ids.join(people, on="participant_id", how="left")
        .join(latest, on="participant_id", how="left")
        .join(daily, on="participant_id", how="left")
        .collect()
    )


def _estimated_rest_where_needed(base: pl.DataFrame, minutes: pl.LazyFrame | None) -> pl.DataFrame:
    """``estimated_rest`` for the participants with a maximum but no resting HR from any source (only they need one)."""
    has_max = (
        pl.col("max_hr").is_not_null()
        | pl.col("profile_max").is_not_null()
        | pl.col("birth_year").is_not_null()
        | pl.col("profile_birth_year").is_not_null()
    )
    no_rest = (
        pl.col("resting_hr").is_null()
        & pl.col("profile_rest").is_null()
        & pl.col("daily_rest").is_null()
    )
    needing = base.filter(has_max & no_rest)["participant_id"].to_list()
    if minutes is not None and needing:
        return estimated_resting(minutes, needing)
    return pl.DataFrame(schema={"participant_id": pl.String, "estimated_rest": pl.Float64})


def _resting_source() -> pl.Expr:
    """Where the resting HR comes from, as a ``HR_PARAMS`` code: roster 0, device 1, estimated 2 (null: nowhere)."""
    return (
        pl.when(pl.col("resting_hr").is_not_null())
        .then(0)
        .when(pl.col("profile_rest").is_not_null() | pl.col("daily_rest").is_not_null())
        .then(1)
        .when(pl.col("estimated_rest").is_not_null())
        .then(2)
    )


def _maximum_source() -> pl.Expr:
    """Where the maximum HR comes from, as a ``HR_PARAMS`` code: roster 0 (its max or birth year), device 1 (null: nowhere)."""
    return (
        pl.when(pl.col("max_hr").is_not_null())
        .then(0)
        .when(pl.col("profile_max").is_not_null())
        .then(1)
        .when(pl.col("birth_year").is_not_null())
        .then(0)
        .when(pl.col("profile_birth_year").is_not_null())
        .then(1)
    )


def _thresholds(value: pl.Expr, moderate: float, vigorous: float) -> pl.Expr:
    """Vigorous, moderate or light by two cut-offs; null where ``value`` is null."""
    return (
        pl.when(value >= vigorous)
        .then(pl.lit(VIGOROUS, pl.Int8))
        .when(value >= moderate)
        .then(pl.lit(MODERATE, pl.Int8))
        .when(value.is_not_null())
        .then(pl.lit(LIGHT, pl.Int8))
    )


def label_index(column: str, labels: Sequence[str], dtype: pl.DataType) -> pl.Expr:
    """Position of ``column``'s value in ``labels``; null for any other value.

    A chain of equality tests: on a handful of labels it costs half of a
    non-strict cast to an Enum and a third of a lookup table, and it works the
    same on String, Categorical and Enum columns.
    """
    index: pl.Expr = pl.lit(None, dtype)
    for position, label in reversed(list(enumerate(labels))):
        index = pl.when(pl.col(column) == label).then(pl.lit(position, dtype)).otherwise(index)
    return index


def device_level() -> pl.Expr:
    """The device's own label as a level; unknown labels do not apply."""
    return label_index("intensity", INTENSITY_LEVELS, pl.Int8())


HRR_PERCENT = "_hrr_percent"
"""Column ``classify_minutes`` puts the percent of heart-rate reserve in, so that the three
comparisons of ``_thresholds`` read it instead of computing it three times (the streaming
engine does not share the subexpression: 0.9 CPU-s of 1.7 on 10 M rows)."""


def heart_rate_reserve_percent() -> pl.Expr:
    """Percent of heart-rate reserve; needs ``resting_hr``, ``max_hr`` and ``tanaka_intercept_bpm``.

    Null unless the heart rate is positive and the reserve (max - rest) is positive.
    """
    hr = pl.col("heart_rate_bpm").cast(pl.Float64)
    tanaka = (
        pl.col("tanaka_intercept_bpm") - TANAKA_SLOPE_BPM_PER_YEAR * pl.col("minute_utc").dt.year()
    )
    reserve = pl.coalesce(pl.col("max_hr"), tanaka) - pl.col("resting_hr")
    return pl.when((hr > 0) & (reserve > 0)).then(100.0 * (hr - pl.col("resting_hr")) / reserve)


def heart_rate_level(config: StudyConfig) -> pl.Expr:
    """Level from percent of heart-rate reserve, read from the ``HRR_PERCENT`` column
    (``heart_rate_reserve_percent``, added by ``classify_minutes``)."""
    i = config.intensity
    return _thresholds(pl.col(HRR_PERCENT), i.hrr_moderate_percent, i.hrr_vigorous_percent)


def cadence_level(config: StudyConfig) -> pl.Expr:
    """Level from steps per minute; applies wherever steps are reported (zero steps is light-or-less).

    Over 210 steps a minute is not a cadence a moderate-intensity rule can
    trust (``features.plausibility``): such minutes are left to other methods.
    """
    i = config.intensity
    steps = pl.col("steps").cast(pl.Float64)
    return _thresholds(
        pl.when(steps <= 210).then(steps),
        i.cadence_moderate_steps_per_minute,
        i.cadence_vigorous_steps_per_minute,
    )


def mets_level(config: StudyConfig) -> pl.Expr:
    """Level from the device's METs; applies wherever METs are reported."""
    i = config.intensity
    return _thresholds(pl.col("mets").cast(pl.Float64), i.mets_moderate, i.mets_vigorous)


def method_levels(config: StudyConfig) -> list[tuple[str, pl.Expr]]:
    """(method, level expression) in the configured order."""
    builders: dict[str, Callable[[], pl.Expr]] = {
        "device": device_level,
        "heart_rate": lambda: heart_rate_level(config),
        "cadence": lambda: cadence_level(config),
        "mets": lambda: mets_level(config),
    }
    return [(m, builders[m]()) for m in config.intensity.methods]


def usable_limits(limits: pl.LazyFrame) -> pl.DataFrame:
    """The participants whose heart-rate reserve can be computed (small; collected once)."""
    return (
        limits.filter(
            pl.col("resting_hr").is_not_null()
            & (pl.col("max_hr").is_not_null() | pl.col("tanaka_intercept_bpm").is_not_null())
        )
        .drop("hr_params", strict=False)
        .collect()
    )


def _level_and_code(ordered: Sequence[tuple[str, pl.Expr]]) -> pl.Expr:
    """The first applicable method's ``4 * level + code`` (null when none applies).

    Each method's level and code travel together, so one coalesce over the
    methods in order picks both from the first that applies.
    """
    return pl.coalesce([expr * 4 + METHODS.index(name) for name, expr in ordered])


def _with_level(minutes: pl.LazyFrame, first: pl.Expr) -> pl.LazyFrame:
    return minutes.with_columns(
        (first // 4).cast(pl.Int8).alias("level"), (first % 4).cast(pl.UInt8).alias("method_code")
    )


def classify_minutes(
    minutes: pl.LazyFrame,
    limits: pl.LazyFrame,
    config: StudyConfig,
    *,
    keep_order: bool = True,
) -> pl.LazyFrame:
    """Add ``level`` (Int8, null when unclassified) and ``method_code`` (UInt8 index into METHODS).

    ``limits`` is ``heart_rate_limits(...)``. The heart-rate method needs a
    per-participant join; when no participant has usable limits it cannot apply
    to any minute and is left out, which spares the join.

    With ``keep_order=False`` (for callers that only aggregate the rows) the
    rows a method ranked before heart rate already classifies (typically a
    device label) skip the join and the reserve arithmetic: they are split off
    the shared input and concatenated back, so the rows come out in another
    order but with the same values. On labelled monitoring data this is about
    a second of 1.5 CPU-s per 10 M rows.
    """
    ordered = method_levels(config)
    if "heart_rate" not in config.intensity.methods:
        return _classified(minutes, ordered)
    usable = usable_limits(limits)
    if not usable.height:
        return _classified(minutes, [(name, e) for name, e in ordered if name != "heart_rate"])
    at = config.intensity.methods.index("heart_rate")
    if keep_order or at == 0:
        return _classified(_with_reserve(minutes, usable), ordered).drop(HRR_PERCENT)
    early = "_early_level"
    tagged = minutes.with_columns(_level_and_code(ordered[:at]).alias(early))
    done = _with_level(tagged.filter(pl.col(early).is_not_null()), pl.col(early)).drop(early)
    # Where every earlier method is null, the first applicable one is among the rest.
    rest = _classified(
        _with_reserve(tagged.filter(pl.col(early).is_null()).drop(early), usable), ordered[at:]
    ).drop(HRR_PERCENT, *usable.columns[1:])
    return pl.concat([done, rest], how="vertical")


def _with_reserve(minutes: pl.LazyFrame, usable: pl.DataFrame) -> pl.LazyFrame:
    """``minutes`` with the participant's limits joined and ``HRR_PERCENT`` computed."""
    return minutes.join(usable.lazy(), on="participant_id", how="left").with_columns(
        heart_rate_reserve_percent().alias(HRR_PERCENT)
    )


def _classified(minutes: pl.LazyFrame, ordered: Sequence[tuple[str, pl.Expr]]) -> pl.LazyFrame:
    if not ordered:
        return minutes.with_columns(
            pl.lit(None, pl.Int8).alias("level"), pl.lit(None, pl.UInt8).alias("method_code")
        )
    return _with_level(minutes, _level_and_code(ordered))
