"""One row of the adversarial table and how it is printed."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field


@dataclass
class AreaFigures:
    """What one area of the harness found: counts, and outcomes by name."""

    area: str
    cases: int = 0
    crashes: int = 0
    good_lost: int = 0
    impossible_counted: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    crash_examples: list[str] = field(default_factory=list)
    loss_examples: list[str] = field(default_factory=list)

    def crashed(self, case: str, error: BaseException) -> None:
        self.crashes += 1
        if len(self.crash_examples) < 5:
            self.crash_examples.append(f"{case}: {type(error).__name__}: {error}"[:300])


def table(rows: list[AreaFigures]) -> str:
    """The figures as a Markdown table (outcomes sorted by count)."""
    lines = [
        "| area | cases | crashes | good records lost | impossible values counted | outcomes |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        outcomes = ", ".join(f"{k} {v}" for k, v in r.outcomes.most_common())
        lines.append(
            f"| {r.area} | {r.cases} | {r.crashes} | {r.good_lost:,} | "
            f"{r.impossible_counted:,} | {outcomes} |"
        )
    for r in rows:
        for example in r.crash_examples:
            lines.append(f"\ncrash in {r.area}: {example}")
        for example in r.loss_examples:
            lines.append(f"\nloss in {r.area}: {example}")
    return "\n".join(lines)
