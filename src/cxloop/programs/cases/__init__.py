"""Closed-loop feedback: routing answers to the team that owns the moment, cases through their
lifecycle, and the loop's metrics (docs/cases.md)."""

from __future__ import annotations

from cxloop.programs.cases.lifecycle import Case, Cases, InvalidTransition, UnknownCase

__all__ = ["Case", "Cases", "InvalidTransition", "UnknownCase"]
