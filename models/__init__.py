"""Scores over the weekly table: week status, per-participant adherence, cohort shares."""

from models.adherence import participant_scores
from models.cohort import cohort_weekly
from models.weekly_status import week_status, with_status

__all__ = ["cohort_weekly", "participant_scores", "week_status", "with_status"]
