"""Outbox: the claim's token and the message's quiet-hours zone.

Revision ID: 0202
Revises: 0201
Create Date: 2026-11-23

Frozen: this file describes the schema as it was at revision 0202 and never changes.

- `outbox.claim_token`: the worker that claimed a message (a random token per claim). A
  worker whose lease ran out while it was posting may no longer mark the message: the marks
  and the lease renewal are conditional on the token, so a second worker's claim is never
  undone and attempts are never counted twice.
- `outbox.zone`: the IANA zone whose quiet hours hold the message (the customer's or the
  workspace's, chosen when it was queued), so quiet hours hold a retry, a dead letter queued
  again at night, or a worker catching up after downtime, not only the first attempt.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0202"
down_revision = "0201"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("claim_token", sa.Text))
        batch.add_column(sa.Column("zone", sa.Text))


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("zone")
        batch.drop_column("claim_token")
