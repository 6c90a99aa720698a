"""Derived quantities from the canonical tables: minute intensity, wear, local weeks, daily and weekly tables."""

from features.incremental import touched_weeks, update_weekly
from features.weekly import daily_table, hourly_wear, weekly_table

__all__ = ["daily_table", "hourly_wear", "touched_weeks", "update_weekly", "weekly_table"]
