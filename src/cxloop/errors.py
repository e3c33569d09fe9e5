"""User-facing errors.

Every problem a user can cause (a missing file, a bad header, a busy workspace) raises a
:class:`CxloopError` whose message is one readable line. The CLI prints that line and exits
with a non-zero code; it never shows a traceback for these.
"""

from __future__ import annotations


class CxloopError(Exception):
    """An error caused by input or environment, explained in one line."""

    exit_code = 2


class WorkspaceError(CxloopError):
    """The path is not a workspace, or the workspace cannot be used right now."""


class WorkspaceBusyError(WorkspaceError):
    """Another process holds the workspace's write lock."""

    exit_code = 75  # EX_TEMPFAIL: try again later


class InputFileError(CxloopError):
    """A file cannot be loaded at all (missing, unreadable, wrong header, unknown kind)."""


class ConfigError(CxloopError):
    """`cxloop.toml` is malformed or holds an invalid value."""


class NotFoundError(CxloopError):
    """Nothing in the workspace matches what was named (a person to export or erase)."""

    exit_code = 66  # EX_NOINPUT: scripts tell "no such person" from a failed run
