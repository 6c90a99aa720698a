"""irisin's command line (``irisin.cli``); the library lives in the packages below it."""

from importlib.metadata import version

__version__ = version("irisin")
