"""The content tables of the programs' store (migration 0301), for SQLAlchemy Core."""

from __future__ import annotations

import sqlalchemy as sa

from cxloop.programs.tables import BigId, UtcDateTime

metadata = sa.MetaData()
_Id = BigId
_Time = UtcDateTime

content_assets = sa.Table(
    "content_assets",
    metadata,
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
)

content_status_changes = sa.Table(
    "content_status_changes",
    metadata,
    sa.Column("id", _Id, primary_key=True, autoincrement=True),
    sa.Column("content_id", sa.Text, sa.ForeignKey("content_assets.content_id"), nullable=False),
    sa.Column("from_status", sa.Text, nullable=True),
    sa.Column("to_status", sa.Text, nullable=False),
    sa.Column("changed_at", _Time, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Index("content_status_changes_asset", "content_id", "changed_at"),
)
