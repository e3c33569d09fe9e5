"""The content catalogue in the programs' store: load a file, create, move through the
workflow, list. Each call is one transaction (the catalogue owns it), retried on transient
failures; a status change is checked against the status it read, under the row's lock
(PostgreSQL) or the database lock (SQLite), so two operators cannot both move one asset.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from cxloop.content.assets import (
    STATUSES,
    TYPES,
    VALUE_LEVELS,
    Asset,
    ContentError,
    check_choice,
    check_transition,
    path_to,
)
from cxloop.content.files import AssetRow, ContentFileError
from cxloop.errors import NotFoundError
from cxloop.programs.content.tables import content_assets as assets_t
from cxloop.programs.content.tables import content_status_changes as changes_t
from cxloop.programs.store import ProgramStore, retrying


class UnknownContent(ContentError):
    """No asset with that id; HTTP 404."""

    http_status = 404
    exit_code = NotFoundError.exit_code


@dataclass(frozen=True)
class LoadReport:
    """What loading a catalogue file did."""

    created: int
    updated: int
    unchanged: int
    status_changes: int

    def to_dict(self) -> dict[str, int]:
        return {
            "created": self.created,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "status_changes": self.status_changes,
        }


class ContentCatalogue:
    """Content assets and their status history in a `ProgramStore`."""

    def __init__(self, store: ProgramStore, *, clock: type[datetime] = datetime) -> None:
        self.store = store
        self._clock = clock

    def _now(self) -> datetime:
        return self._clock.now(UTC)

    # -- reads --------------------------------------------------------------------------------
    def list(self) -> list[Asset]:
        """Every asset, by id, with the date it reached each status."""
        with self.store.read() as conn:
            rows = conn.execute(sa.select(assets_t).order_by(assets_t.c.content_id)).all()
            dates = _dates(conn, None)
        return [_asset(r, dates.get(r.content_id, {})) for r in rows]

    def get(self, content_id: str) -> Asset:
        with self.store.read() as conn:
            row = conn.execute(
                sa.select(assets_t).where(assets_t.c.content_id == content_id)
            ).first()
            if row is None:
                raise UnknownContent(f"no content asset {content_id!r}")
            return _asset(row, _dates(conn, content_id).get(content_id, {}))

    def history(self, content_id: str) -> list[dict[str, object]]:
        """Every status change of an asset, oldest first."""
        self.get(content_id)
        with self.store.read() as conn:
            rows = conn.execute(
                sa.select(changes_t)
                .where(changes_t.c.content_id == content_id)
                .order_by(changes_t.c.id)
            ).all()
        return [
            {
                "from_status": r.from_status,
                "to_status": r.to_status,
                "changed_at": r.changed_at.isoformat(),
                "actor": r.actor,
            }
            for r in rows
        ]

    # -- writes -------------------------------------------------------------------------------
    def create(self, row: AssetRow, *, actor: str) -> Asset:
        """A new asset (409 if the id exists); its history follows the workflow to its status."""

        def run() -> None:
            with self.store.write() as conn:
                if _current(conn, row.content_id) is not None:
                    raise ContentError(f"content {row.content_id} exists")
                self._insert(conn, row, actor)

        _check(row)
        retrying(run)
        return self.get(row.content_id)

    def transition(
        self, content_id: str, status: str, *, actor: str, at: datetime | None = None
    ) -> Asset:
        """Move an asset to `status`; refused (`InvalidTransition`) outside the workflow."""
        if status not in STATUSES:
            check_choice(status, STATUSES, "status")
        moment = _aware(at) if at is not None else self._now()

        def run() -> None:
            with self.store.write() as conn:
                current = _current(conn, content_id, lock=True)
                if current is None:
                    raise UnknownContent(f"no content asset {content_id!r}")
                check_transition(content_id, current, status)
                last = conn.execute(
                    sa.select(sa.func.max(changes_t.c.changed_at)).where(
                        changes_t.c.content_id == content_id
                    )
                ).scalar()
                if last is not None and _utc(last) > moment:
                    raise ContentError(
                        f"content {content_id}: {moment.isoformat()} is before its last status "
                        f"change ({_utc(last).isoformat()}); history never goes backwards"
                    )
                if current != status:
                    self._move(conn, content_id, current, status, moment, actor)

        retrying(run)
        return self.get(content_id)

    def load(self, rows: Sequence[AssetRow], *, actor: str, source: str) -> LoadReport:
        """Create or update every asset of a file in one transaction (all or nothing).

        A row whose status differs from the stored one must be an allowed move; otherwise the
        whole file is refused with the row's line, like any other bad value.
        """
        for row in rows:
            _check(row)
        counts = {"created": 0, "updated": 0, "unchanged": 0, "status_changes": 0}

        def run() -> None:
            for k in counts:
                counts[k] = 0
            with self.store.write() as conn:
                problems = []
                for row in rows:
                    stored = conn.execute(
                        sa.select(assets_t).where(assets_t.c.content_id == row.content_id)
                    ).first()
                    if stored is None:
                        counts["status_changes"] += self._insert(conn, row, actor)
                        counts["created"] += 1
                        continue
                    try:
                        check_transition(row.content_id, stored.status, row.status)
                    except ContentError as exc:
                        problems.append(f"{source}, line {row.line}, column status: {exc}")
                        continue
                    fields = _fields(row)
                    changed = any(getattr(stored, k) != v for k, v in fields.items())
                    if changed:
                        conn.execute(
                            assets_t.update()
                            .where(assets_t.c.content_id == row.content_id)
                            .values(**fields, updated_at=self._now())
                        )
                    if stored.status != row.status:
                        when = row.status_dates.get(row.status) or self._now()
                        self._move(conn, row.content_id, stored.status, row.status, when, actor)
                        counts["status_changes"] += 1
                        changed = True
                    counts["updated" if changed else "unchanged"] += 1
                if problems:
                    raise ContentFileError(source, problems)

        retrying(run)
        return LoadReport(**counts)

    def _insert(self, conn: Connection, row: AssetRow, actor: str) -> int:
        now = self._now()
        steps = path_to(row.status)
        known = [row.created_at, *(row.status_dates.get(s) for s in steps[1:])]
        first = next((d for d in known if d is not None), now)
        created = row.created_at or first
        conn.execute(assets_t.insert().values(**_fields(row), created_at=created, updated_at=now))
        previous: str | None = None
        when = created
        for step in steps:
            # A step without a date in the file takes the date of the step before it: dates
            # never go backwards and are never invented in the future.
            when = created if step == "idea" else row.status_dates.get(step) or when
            conn.execute(
                changes_t.insert().values(
                    content_id=row.content_id, from_status=previous, to_status=step,
                    changed_at=when, actor=actor,
                )
            )  # fmt: skip
            previous = step
        return len(steps)

    def _move(
        self,
        conn: Connection,
        content_id: str,
        current: str,
        status: str,
        when: datetime,
        actor: str,
    ) -> None:
        done = conn.execute(
            assets_t.update()
            .where(assets_t.c.content_id == content_id, assets_t.c.status == current)
            .values(status=status, updated_at=self._now())
        )
        if done.rowcount != 1:  # moved by someone else since it was read
            from cxloop.programs.errors import RetryTransaction

            raise RetryTransaction()
        conn.execute(
            changes_t.insert().values(
                content_id=content_id, from_status=current, to_status=status,
                changed_at=when, actor=actor,
            )
        )  # fmt: skip


def _check(row: AssetRow) -> None:
    if not row.content_id or not row.title or not row.moment:
        raise ContentError("content_id, title and moment are required")
    check_choice(row.type, TYPES, "type")
    check_choice(row.value_level, VALUE_LEVELS, "value_level")
    check_choice(row.status, STATUSES, "status")


def _fields(row: AssetRow) -> dict[str, object]:
    return {
        "content_id": row.content_id,
        "title": row.title,
        "type": row.type,
        "persona": row.persona,
        "moment": row.moment,
        "value_level": row.value_level,
        "status": row.status,
        "owner": row.owner,
    }


def _current(conn: Connection, content_id: str, *, lock: bool = False) -> str | None:
    query = sa.select(assets_t.c.status).where(assets_t.c.content_id == content_id)
    if lock and conn.dialect.name == "postgresql":
        query = query.with_for_update()
    return conn.execute(query).scalar()


def _dates(conn: Connection, content_id: str | None) -> dict[str, dict[str, datetime]]:
    """Per asset, the latest date it reached each status."""
    query = sa.select(changes_t.c.content_id, changes_t.c.to_status, changes_t.c.changed_at)
    if content_id is not None:
        query = query.where(changes_t.c.content_id == content_id)
    out: dict[str, dict[str, datetime]] = {}
    for cid, status, at in conn.execute(query.order_by(changes_t.c.changed_at, changes_t.c.id)):
        out.setdefault(cid, {})[status] = at
    return out


def _asset(row: sa.Row, dates: dict[str, datetime]) -> Asset:
    return Asset(
        content_id=row.content_id,
        title=row.title,
        type=row.type,
        persona=row.persona,
        moment=row.moment,
        value_level=row.value_level,
        status=row.status,
        owner=row.owner,
        status_dates=dates,
    )


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _aware(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ContentError("a status date needs a time zone offset (or a Z)")
    return moment.astimezone(UTC)
