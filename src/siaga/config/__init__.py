"""The site as code: models, loading with file/line/field errors, secrets policy."""

from siaga.config.errors import ConfigError, ConfigProblem
from siaga.config.loader import LoadedConfig, load_config, parse_config
from siaga.config.models import SiteConfig

__all__ = ["ConfigError", "ConfigProblem", "LoadedConfig", "SiteConfig", "load_config", "parse_config"]
