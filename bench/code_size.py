"""Size figures of the library code: the longest functions and the modules over 400 lines.

    python -m bench.code_size              # top 12 functions, every module over 400 lines
    python -m bench.code_size --top 20 --over 300

Issue 16 records these before and after a clean-up, beside the count of
``duplicates`` pairs (``duplicates --seconds 120``, a separate command). Only
the library packages count (the layers of the README's architecture table),
not tests or benchmarks. A function's length is its lines from ``def`` to its
last line, docstring and nested functions included.
"""

from __future__ import annotations

import argparse
import ast
from pathlib import Path

LIBRARY = (
    "config",
    "store",
    "features",
    "ingest",
    "models",
    "pipeline",
    "flows",
    "dashboard",
    "irisin",
)
"""The packages measured, bottom layer first."""


def function_lengths(root: Path) -> list[tuple[int, str]]:
    """(lines, ``module.py::name``) of every function and method, longest first."""
    out = []
    for package in LIBRARY:
        for path in sorted((root / package).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    end = node.end_lineno or node.lineno
                    out.append((end - node.lineno + 1, f"{path.relative_to(root)}::{node.name}"))
    return sorted(out, reverse=True)


def long_modules(root: Path, over: int) -> list[tuple[int, str]]:
    """(lines, path) of the library modules longer than ``over`` lines, longest first."""
    sizes = [
        (len(path.read_text(encoding="utf-8").splitlines()), str(path.relative_to(root)))
        for package in LIBRARY
        for path in (root / package).rglob("*.py")
    ]
    return sorted(((n, p) for n, p in sizes if n > over), reverse=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--root", type=Path, default=Path("."), help="the repository (default: here)"
    )
    parser.add_argument("--top", type=int, default=12, help="how many functions to list")
    parser.add_argument("--over", type=int, default=400, help="list modules longer than this")
    args = parser.parse_args()
    print(f"longest functions (top {args.top}):")
    for lines, name in function_lengths(args.root)[: args.top]:
        print(f"  {lines:5d}  {name}")
    modules = long_modules(args.root, args.over)
    print(f"modules over {args.over} lines: {len(modules)}")
    for lines, name in modules:
        print(f"  {lines:5d}  {name}")


if __name__ == "__main__":
    main()
