"""Content mapped to the moments it serves: assets, their workflow, and their measured lift."""

from cxloop.content.assets import (
    STATUSES,
    TRANSITIONS,
    Asset,
    ContentError,
    InvalidTransition,
)
from cxloop.content.lift import ContentSettings, build_content

__all__ = [
    "STATUSES",
    "TRANSITIONS",
    "Asset",
    "ContentError",
    "ContentSettings",
    "InvalidTransition",
    "build_content",
]
