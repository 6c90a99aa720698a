"""Derived quantities from the canonical tables: minute intensity, wear, local weeks, daily and weekly tables."""

from features.incremental import replace_weeks, touched_weeks
from features.weekly import daily_table, hourly_wear, weekly_table

__all__ = ["daily_table", "hourly_wear", "replace_weeks", "touched_weeks", "weekly_table"]
