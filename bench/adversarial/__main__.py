"""``python -m bench.adversarial [--areas fit,archives,exports,kills,store]``: run the areas, print the table."""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.adversarial.figures import AreaFigures, table


def _areas() -> dict[str, Callable[[Path], AreaFigures]]:
    from bench.adversarial import archives, exports, fit_files, kills, store_damage

    return {
        "fit": fit_files.run,
        "archives": archives.run,
        "exports": exports.run,
        "kills": kills.run,
        "store": store_damage.run,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.adversarial", description=__doc__)
    parser.add_argument("--areas", default="fit,archives,exports,kills,store")
    args = parser.parse_args(argv)
    areas = _areas()
    rows = []
    for name in args.areas.split(","):
        cpu = resource.getrusage(resource.RUSAGE_SELF).ru_utime
        wall = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"adversarial-{name}-") as folder:
            row = areas[name](Path(folder))
        rows.append(row)
        print(
            f"{row.area}: {row.cases} cases in {time.monotonic() - wall:.1f} s wall, "
            f"{resource.getrusage(resource.RUSAGE_SELF).ru_utime - cpu:.1f} s CPU (this process)",
            flush=True,
        )
    print(table(rows))


if __name__ == "__main__":
    main()
