"""Content assets and their status changes (the content program's branch).

Revision ID: 0301
Revises: 0002
Create Date: 2026-11-23

Frozen: this file describes the schema as it was at revision 0301 and never changes.
`content_assets` holds each asset's current fields and status; `content_status_changes` is
append-only history (the date each status was reached and who moved it), from which the
catalogue reads `published_at` and the other dates.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0301"
down_revision = "0002"
branch_labels = ("content",)
depends_on = None

_Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_Time = sa.DateTime(timezone=True)
_STATUSES = "'idea', 'planned', 'approved', 'published', 'retired'"


def upgrade() -> None:
    op.create_table(
        "content_assets",
        sa.Column("content_id", sa.Text, primary_key=True),
        sa.Column("title", sa.Text, nullable=False),
        sa.Column("type", sa.Text, nullable=False),
        sa.Column("persona", sa.Text, nullable=False),
        sa.Column("moment", sa.Text, nullable=False),
        sa.Column("value_level", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("owner", sa.Text, nullable=True),
        sa.Column("created_at", _Time, nullable=False),
        sa.Column("updated_at", _Time, nullable=False),
        sa.CheckConstraint(f"status IN ({_STATUSES})", name="content_assets_status"),
        sa.CheckConstraint(
            "value_level IN ('functional', 'personal', 'catalytic')",
            name="content_assets_value_level",
        ),
    )
    op.create_table(
        "content_status_changes",
        sa.Column("id", _Id, primary_key=True, autoincrement=True),
        sa.Column(
            "content_id", sa.Text, sa.ForeignKey("content_assets.content_id"), nullable=False
        ),
        sa.Column("from_status", sa.Text, nullable=True),
        sa.Column("to_status", sa.Text, nullable=False),
        sa.Column("changed_at", _Time, nullable=False),
        sa.Column("actor", sa.Text, nullable=False),
        sa.CheckConstraint(f"to_status IN ({_STATUSES})", name="content_changes_status"),
    )
    op.create_index(
        "content_status_changes_asset", "content_status_changes", ["content_id", "changed_at"]
    )


def downgrade() -> None:
    op.drop_index("content_status_changes_asset", "content_status_changes")
    op.drop_table("content_status_changes")
    op.drop_table("content_assets")
