"""The content program: the catalogue of content assets and their workflow, in the programs'
transactional store (migration 0301)."""

from cxloop.programs.content.catalogue import ContentCatalogue, LoadReport, UnknownContent

__all__ = ["ContentCatalogue", "LoadReport", "UnknownContent"]
