"""Personas: groups of customers discovered from behaviour and preferences, described in
plain words, saved as a model that later data is assigned to, and watched for drift."""

from cxloop.analytics.personas.build import build_personas
from cxloop.analytics.personas.settings import PersonasSettings
from cxloop.analytics.personas.store import ASSIGNMENTS_TABLE, export_personas

__all__ = [
    "ASSIGNMENTS_TABLE",
    "PersonasSettings",
    "build_personas",
    "export_personas",
]
