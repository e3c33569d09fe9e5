"""Members vs non-members: which profiles are enrolled in the loyalty program, for analyses.

The analytics run on the warehouse (DuckDB); enrolment lives in the programs' store
(SQLite or PostgreSQL), which owns it. So a breakdown by membership reads the members' profile
ids through the `ProgramStore` at the moment it runs and hands them to the engine as a
temporary table, `program_members(profile_id)`, that the analysis joins to its profiles. No
copy is kept in the warehouse: a membership is never stale by one sync.

Membership is the profile's *current* state: a member's orders from before they enrolled
count on the member side. The breakdown compares people who are members with those who are
not, not the same people before and after enrolling (see docs/metrics.md).

When no program store exists (the embedded file was never created and no `[programs]
database_url` is set), every profile is a non-member and `notes` says so, so a reader never
takes "no members" for "no program". A configured store that cannot be reached is an error:
counting everyone as a non-member then would be wrong, not merely empty.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

MEMBERS_TABLE = "program_members"
MEMBER, NON_MEMBER = "member", "non-member"


@dataclass(frozen=True)
class Membership:
    """What the analysis was given: whether a store exists, its members, and notes to show."""

    store: bool
    members: int
    matched: int  # members whose profile is a profile of the warehouse
    notes: list[str] = field(default_factory=list)


def member_profiles(ws: Workspace) -> list[str] | None:
    """The profile ids of the loyalty members, or None when the workspace has no program
    store. Opening a store that exists brings its schema up to date (`ProgramStore.open`)."""
    from cxloop.programs.store import DATABASE_FILE, ProgramStore
    from cxloop.programs.tables import members

    url = ws.config.programs.database_url or None
    if url is None and not (ws.path / DATABASE_FILE).is_file():
        return None  # never create a store just to find it empty
    import sqlalchemy as sa

    with ProgramStore.open(ws.path, url, pool_size=1) as store, store.read() as conn:
        return list(conn.execute(sa.select(members.c.profile_id)).scalars())


def register_members(ws: Workspace) -> Membership:
    """Create the engine's temporary table `program_members` for this connection.

    Replaced on every call, so a long-running service sees enrolments made since the last
    analysis.
    """
    profiles = member_profiles(ws)
    ws.engine.execute(f"CREATE OR REPLACE TEMP TABLE {MEMBERS_TABLE} (profile_id VARCHAR)")
    if profiles is None:
        return Membership(
            store=False,
            members=0,
            matched=0,
            notes=[
                "no loyalty program store in this workspace: every profile is a non-member "
                "(enrol members with `cxloop loyalty enrol`)"
            ],
        )
    if profiles:
        ws.engine.execute(
            f"INSERT INTO {MEMBERS_TABLE} SELECT DISTINCT unnest(CAST($ids AS VARCHAR[]))",
            {"ids": profiles},
        )
    matched = int(
        ws.engine.scalar(
            f"SELECT count(*) FROM {MEMBERS_TABLE} m JOIN profiles p USING (profile_id)"
        )
    )
    notes = []
    if matched < len(profiles):
        notes.append(
            f"{len(profiles) - matched:,} of {len(profiles):,} members' profiles are not "
            "among the current profiles (profile ids change when profiles merge; "
            "docs/loyalty.md): their records count as non-member"
        )
    if not profiles:
        notes.append("the loyalty program has no members yet: every profile is a non-member")
    return Membership(store=True, members=len(profiles), matched=matched, notes=notes)


def membership_sql(profile_id: str) -> str:
    """SQL: 'member' or 'non-member' for the profile id expression; NULL without a profile
    (a record that no profile holds belongs to neither side)."""
    return (
        f"CASE WHEN {profile_id} IS NULL THEN NULL "
        f"WHEN {profile_id} IN (SELECT profile_id FROM {MEMBERS_TABLE}) THEN '{MEMBER}' "
        f"ELSE '{NON_MEMBER}' END"
    )
