"""The plain pipeline: the steps of a run as functions (no orchestrator, no UI, no CLI).

``flows`` wraps these steps in Prefect tasks and ``irisin.cli`` calls them;
nothing here imports either. See the README's architecture table.
"""

from importlib.metadata import version

__version__ = version("irisin")
"""The installed irisin version, recorded in every run and export (pyproject.toml is its one source)."""
