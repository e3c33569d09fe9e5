"""Errors of the programs: each one readable in one line, each with the HTTP status it means.

The REST layer maps `http_status` generically, so a new error never needs a new handler;
the CLI prints the message and exits with `exit_code` like every `CxloopError`.
"""

from __future__ import annotations

from cxloop.errors import CxloopError


class ProgramError(CxloopError):
    """A request a program refuses (bad points, wrong kind of entry); HTTP 400."""

    http_status = 400


class IdempotencyConflict(ProgramError):
    """An idempotency key was reused for a different request; HTTP 409.

    The same key with the same request returns the first result; a different request under
    that key is almost always a client bug (a key reused across calls), so it is refused
    rather than silently answered with an unrelated result.
    """

    http_status = 409


class InsufficientPoints(ProgramError):
    """A redemption or debit larger than the member's balance; HTTP 409.

    Carries the figures so a face can show them without parsing the message.
    """

    http_status = 409

    def __init__(self, member_id: str, balance: int, requested: int) -> None:
        super().__init__(
            f"member {member_id} has {balance:,} points; {requested:,} requested "
            f"(a balance never goes below zero)"
        )
        self.member_id = member_id
        self.balance = balance
        self.requested = requested


class UnknownMember(ProgramError):
    """No member with that id; HTTP 404."""

    http_status = 404
    exit_code = 66  # EX_NOINPUT, like cxloop.errors.NotFoundError


class UnknownEntry(ProgramError):
    """No ledger entry with that id; HTTP 404."""

    http_status = 404
    exit_code = 66


class AlreadyReversed(ProgramError):
    """The entry has been reversed already (an entry is reversed at most once); HTTP 409."""

    http_status = 409


class NotReversible(ProgramError):
    """The entry is of a kind that is not reversed (an expiry, a reversal); HTTP 409."""

    http_status = 409


class StoreUnavailable(ProgramError):
    """The store cannot be reached or stays busy after retries; HTTP 503."""

    http_status = 503
    exit_code = 75  # EX_TEMPFAIL: try again later


class RetryTransaction(Exception):
    """Raised inside a transaction to have `retrying` roll it back and run it again.

    Used when a concurrent transaction committed something this one must see (the same
    idempotency key, claimed a moment earlier by another client), or when the group commit
    of the embedded store failed. Never reaches a user: `retrying` turns repeated failures
    into `StoreUnavailable`.
    """


class UnknownAsk(ProgramError):
    """No advocacy ask with that id; HTTP 404."""

    http_status = 404
    exit_code = 66
