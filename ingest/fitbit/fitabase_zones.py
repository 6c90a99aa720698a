"""Placing Fitabase's naive local wall times in UTC, in each participant's roster zone.

A Fitabase export holds many participants, each in the zone the roster gives
(``ctx.zones``; ``ctx.timezone`` where it gives none). At an autumn DST fold
the first occurrence of a wall time is the earlier instant; wall times in the
spring gap do not exist and are dropped and counted.
"""

from __future__ import annotations

import polars as pl

from ingest.contract import ReadContext
from ingest.fitbit.tables import SOURCE_FITABASE
from ingest.zones import offsets_from_zone


def zone_groups(frame: pl.DataFrame, ctx: ReadContext) -> list[tuple[str | None, pl.DataFrame]]:
    """The frame split by each participant's roster zone (``ctx.timezone`` where the roster has none)."""
    if "participant_id" not in frame.columns or not ctx.zones or frame.height == 0:
        return [(ctx.timezone, frame)]
    zone = pl.col("participant_id").replace_strict(
        dict(ctx.zones), default=ctx.timezone, return_dtype=pl.String
    )
    tagged = frame.with_columns(zone.alias("_zone"))
    return [
        (z, part.drop("_zone")) for (z,), part in tagged.group_by(["_zone"], maintain_order=True)
    ]


def place(frame: pl.DataFrame, ctx: ReadContext) -> tuple[pl.DataFrame, int]:
    """``minute_utc`` and ``utc_offset_minutes`` from naive local times in each participant's roster zone."""
    placed, gaps = [], 0
    for tz, part in zone_groups(frame, ctx):
        p, g = _place_in_zone(part, tz)
        placed.append(p)
        gaps += g
    return pl.concat(placed, how="vertical_relaxed"), gaps


def _place_in_zone(frame: pl.DataFrame, tz: str | None) -> tuple[pl.DataFrame, int]:
    """``minute_utc`` and ``utc_offset_minutes`` from naive local times in one zone.

    At an autumn DST fold a wall time occurs twice; Fitabase lists both in
    time order, so its first occurrence per participant is the earlier
    instant and its second the later. Wall times in the spring gap do not
    exist; they are dropped and counted.
    """
    if tz is None or frame.height == 0:
        placed = frame.with_columns(pl.col("local").dt.replace_time_zone("UTC").alias("minute_utc"))
        offset = pl.lit(0, dtype=pl.Int16)
    else:
        local = pl.col("local")
        placed = frame.with_row_index("_row").with_columns(
            local.dt.replace_time_zone(tz, ambiguous="null", non_existent="null").alias(
                "minute_utc"
            )
        )
        unplaced = placed.filter(pl.col("minute_utc").is_null())
        if unplaced.height:  # only fold and gap rows need the order-based rule
            occurrence = pl.int_range(pl.len()).over("participant_id", "local")
            ambiguous = (
                pl.when(occurrence == 0).then(pl.lit("earliest")).otherwise(pl.lit("latest"))
            )
            fold = unplaced.select(
                "_row",
                local.dt.replace_time_zone(tz, ambiguous=ambiguous, non_existent="null").alias(
                    "minute_utc"
                ),
            )
            placed = placed.update(fold, on="_row")
        placed = placed.drop("_row")
        placed = placed.with_columns(pl.col("minute_utc").dt.convert_time_zone("UTC"))
        offset = offsets_from_zone(pl.col("minute_utc"), tz)
    in_gap = placed["minute_utc"].null_count()
    placed = placed.filter(pl.col("minute_utc").is_not_null()).with_columns(
        offset.alias("utc_offset_minutes"), pl.lit(SOURCE_FITABASE).alias("source")
    )
    return placed, in_gap
