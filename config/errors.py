"""Errors a study's configuration can raise."""


class ConfigError(ValueError):
    """study.toml or roster.csv is invalid; the message names file, key and problem."""
