"""Study configuration: thresholds and rules (study.toml) and the roster (roster.csv)."""

from config.errors import ConfigError
from config.layout import Study, StudyPaths, init_study, open_study
from config.study import StudyConfig, load_study_config, parse_study_config

__all__ = [
    "ConfigError",
    "Study",
    "StudyConfig",
    "StudyPaths",
    "init_study",
    "load_study_config",
    "open_study",
    "parse_study_config",
]
