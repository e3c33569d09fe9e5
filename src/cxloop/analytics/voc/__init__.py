"""Voice of the customer: what customers say in verbatims, reviews and social mentions."""

from cxloop.analytics.voc.build import VocSettings, build_voc, export_voc

__all__ = ["VocSettings", "build_voc", "export_voc"]
