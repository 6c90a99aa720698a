"""Named wear rules: when a minute counts as worn (``[wear] rule``).

``heart_rate_present``
    the minute has a positive heart rate. The default: optical heart rate is only
    measured on skin.
``heart_rate_or_steps``
    a positive heart rate or at least one step. Steps of zero are not evidence of
    non-wear (a worn device at rest counts none), but neither are they evidence of
    wear, so a minute with zero steps and no heart rate is not worn.
``device``
    the source's own wear flag (``worn``); where a source reports no flag for the
    minute, the ``heart_rate_present`` rule decides.
"""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from config.study import WearRule


def heart_rate_present() -> pl.Expr:
    return pl.col("heart_rate_bpm").fill_null(0) > 0


def heart_rate_or_steps() -> pl.Expr:
    return heart_rate_present() | (pl.col("steps").fill_null(0) > 0)


def device_flag() -> pl.Expr:
    return pl.col("worn").fill_null(heart_rate_present())


WEAR_RULES: dict[str, Callable[[], pl.Expr]] = {
    "heart_rate_present": heart_rate_present,
    "heart_rate_or_steps": heart_rate_or_steps,
    "device": device_flag,
}


def worn(rule: WearRule) -> pl.Expr:
    """Boolean (never null) expression: the minute row counts as worn under ``rule``."""
    return WEAR_RULES[rule]().alias("worn_by_rule")
