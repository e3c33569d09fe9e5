"""The customer-experience architecture: personas x moments x experiences, as data
(`architecture.toml`), joined with the data's figures per moment (`cxloop architecture`)."""

from cxloop.experience.architecture import (
    ARCHITECTURE_FILE,
    VALUE_LEVELS,
    Architecture,
    ArchitectureError,
    Experience,
    Moment,
    load_architecture,
    parse_architecture,
)
from cxloop.experience.inventory import build_architecture

__all__ = [
    "ARCHITECTURE_FILE",
    "VALUE_LEVELS",
    "Architecture",
    "ArchitectureError",
    "Experience",
    "Moment",
    "build_architecture",
    "load_architecture",
    "parse_architecture",
]
