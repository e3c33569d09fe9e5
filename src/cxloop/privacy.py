"""Personal data rights: give a person everything held about them, or erase it all.

GDPR articles 15 and 20 (access, portability) and 17 (erasure), for one workspace:

- `export_person(ws, key)` gathers every row that belongs to the person's unified profile:
  their contract records, the analyses derived from them and the rejected input rows that
  name them, as a JSON-ready document.
- `erase_person(ws, key)` deletes the same rows in one transaction, rewrites the rejects
  files without their lines, moves the data version (so every cache and the profiles are
  rebuilt without them) and appends an audit row to `erasure_log` that names no one.

A person is the unified profile a key resolves to (`Profiles.lookup`: profile id,
`source:customer_id`, customer id, email or anonymous id), so erasure follows identity
resolution: what the profile merged is erased together. Export first to see what that is.

Not touched, because it holds no one's data: the persona model file (`models/personas.json`
holds feature names, population shares, scaling, mixture parameters and persona centroids:
aggregates over every customer, no profile id, id or text), the theme model in `meta`
(frequent terms of the whole corpus), `identity_skipped` (identifiers shared by several
people, rebuilt with the profiles) and `ingest_log` (file paths and counts). Copies outside
the workspace (the input files, exports, reports, backups) are the operator's to erase.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import sys
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cxloop.contract.schema import KINDS
from cxloop.errors import CxloopError, NotFoundError
from cxloop.identity.graph import SEP_CHAR as _SEP
from cxloop.sql import ident, literal
from cxloop.warehouse import SYSTEM_TABLES

if TYPE_CHECKING:
    from cxloop.engines.duckdb_engine import DuckDBEngine
    from cxloop.workspace import Workspace

PERSONAL_KINDS = ("customers", "events", "orders", "feedback", "mentions", "referrals")
"""Contract kinds that hold people's rows (touchpoints is a catalogue)."""

ROWS = "__privacy_rows"
"""Temporary table of the person's contract rows: (kind, source, id)."""

SENTIMENT_TABLE = "voc_sentiment"
ID_FIELDS = frozenset({"customer_id", "referrer_id", "referee_id"})
MIN_PHONE_DIGITS = 7
DERIVED_NOTE = (
    "Derived data: cxloop computed these rows from the records above (the unified profile "
    "and how it was merged, sentiment and themes of texts, the persona). They are recomputed "
    "from the records whenever the data changes."
)


@dataclass(frozen=True)
class Person:
    """The identifiers of one unified profile, and the rules that find them in free rows.

    `records` are (source, customer_id) pairs, present or only referenced; `emails` and
    `phones` are normalised (lower-cased; E.164 digits); `handles` are (platform, author).
    A person no profile holds (`profile_id` None) is named by the key itself: `loose_ids`
    are then customer ids of any source.
    """

    profile_id: str | None
    records: tuple[tuple[str, str], ...]
    emails: tuple[str, ...]
    phones: tuple[str, ...]
    anonymous_ids: tuple[str, ...]
    handles: tuple[tuple[str, str], ...] = ()
    loose_ids: tuple[str, ...] = ()

    def identifiers(self) -> dict[str, Any]:
        return {
            "records": [{"source": s, "customer_id": c} for s, c in self.records],
            "emails": list(self.emails),
            "phones": list(self.phones),
            "anonymous_ids": list(self.anonymous_ids),
            "handles": [{"platform": p, "author": a} for p, a in self.handles],
            "customer_ids_any_source": list(self.loose_ids),
        }

    def search_terms(self) -> list[str]:
        """Lower-cased strings at least one of which occurs in any text that names the
        person, as written and as escaped inside JSON (a cheap first filter)."""
        values = [c for _, c in self.records] + [*self.emails, *self.anonymous_ids]
        values += list(self.loose_ids)
        values += [a for _, a in self.handles]
        escaped = [json.dumps(v, ensure_ascii=False)[1:-1] for v in values]
        return sorted({v.lower() for v in values + escaped if v})

    def phone_tails(self) -> list[str]:
        """The last digits every written form of their phone numbers contains."""
        return sorted({p[-MIN_PHONE_DIGITS:] for p in self.phones})

    @cached_property
    def _sources(self) -> dict[str, set[str]]:
        sources: dict[str, set[str]] = {}
        for source, customer_id in self.records:
            sources.setdefault(customer_id, set()).add(source)
        return sources

    @cached_property
    def _emails_and_cookies(self) -> frozenset[str]:
        return frozenset([*self.emails, *(a.lower() for a in self.anonymous_ids)])

    @cached_property
    def _handles(self) -> frozenset[tuple[str, str]]:
        return frozenset((p.lower(), a.strip().lower()) for p, a in self.handles)

    def is_named_in(self, record: Mapping[str, Any] | None, raw: str | None) -> bool:
        """Whether a rejected row names the person: one of its values is their customer id
        (in the same source, or none given), email, phone, anonymous id or handle. Whole
        values are compared, never substrings, so customer `17` does not match `170`."""
        if record and self._record_names(record):
            return True
        return bool(raw) and any(self._names(f, None, None, None) for f in _fields(raw or ""))

    def has_phone(self, text: str) -> bool:
        """Whether `text` is one of their phone numbers, international or national."""
        digits = re.sub(r"\D", "", text).lstrip("0")
        if len(digits) < MIN_PHONE_DIGITS:
            return False
        # A national number lacks the 1-3 digit country code of the E.164 form.
        return any(
            p == digits or (p.endswith(digits) and len(p) - len(digits) <= 3) for p in self.phones
        )

    def _record_names(self, record: Mapping[str, Any]) -> bool:
        fields = {str(k).strip().lower(): v for k, v in record.items()}
        source, platform = _text(fields.get("source")), _text(fields.get("platform"))
        return any(
            self._names(text, key, source, platform)
            for key, value in fields.items()
            for text in _texts(value)
        )

    def _names(self, text: str, key: str | None, source: str | None, platform: str | None) -> bool:
        """Whether one value names the person; `key` None: a field of a line that could not
        be read into columns, which may be any of them."""
        value = text.strip()
        lowered = value.lower()
        if not value:
            return False
        if lowered in self._emails_and_cookies:
            return True
        if (key is None or key in ID_FIELDS) and value in self.loose_ids:
            return True
        if key is None or key in ID_FIELDS:
            sources = self._sources.get(value, set())
            if sources and (source in (None, "", "default") or source in sources):
                return True
        if (key is None or key == "author") and any(
            a == lowered and (not platform or p == platform.lower()) for p, a in self._handles
        ):
            return True
        return (key is None or "phone" in key) and self.has_phone(value)


# -- finding the person -------------------------------------------------------------------
def _find_person(ws: Workspace, key: str) -> Person:
    """The person `key` names (profiles rebuilt first if the data changed), with their rows
    listed in the temporary table `ROWS`. NotFoundError when nothing names them."""
    needle = key.strip()
    if not needle:
        raise NotFoundError("an empty key names no one")
    ws.profiles.ensure_current()
    found = ws.profiles.lookup(needle, timeline_limit=0)
    if found is None:
        return _unprofiled(ws, needle)
    profile_id = str(found["profile_id"])
    nodes = ws.engine.fetchall(
        "SELECT node_type, split_part(node, chr(31), 2), split_part(node, chr(31), 3) "
        "FROM profile_nodes WHERE profile_id = ? ORDER BY node",
        [profile_id],
    )
    of = {t: [(a, b) for kind, a, b in nodes if kind == t] for t in "repa"}
    emails = tuple(a for a, _ in of["e"])
    _list_rows(ws.engine, profile_id, emails)
    handles = ws.engine.fetchall(
        f"SELECT DISTINCT m.platform, m.author FROM mentions m JOIN {ROWS} k "
        "ON k.kind = 'mentions' AND k.id = m.mention_id ORDER BY 1, 2"
    )
    return Person(
        profile_id=profile_id,
        records=tuple(of["r"]),
        emails=emails,
        phones=tuple(a for a, _ in of["p"]),
        anonymous_ids=tuple(a for a, _ in of["a"]),
        handles=tuple((p, a) for p, a in handles),
    )


def _unprofiled(ws: Workspace, key: str) -> Person:
    """Someone no profile holds can still be named in the workspace: a customer whose every
    row was rejected, a referee known only by email. The key itself is then their
    identifier (an email, `source:customer_id`, or a customer or anonymous id of any
    source), matched in referrals and rejected rows."""
    source, _, customer_id = key.partition(":")
    email = key.lower() if "@" in key else None
    if email and email.split("@")[0] in ws.config.identity.placeholder_emails:
        raise CxloopError(f"{key!r} is a placeholder email: it names no one person")
    person = Person(
        profile_id=None,
        records=((source, customer_id),) if customer_id else (),
        emails=(email,) if email else (),
        phones=(),
        anonymous_ids=() if email else (key,),
        loose_ids=() if email or customer_id else (key,),
    )
    _list_rows(ws.engine, None, person.emails)
    held = (
        ws.engine.scalar(f"SELECT count(*) FROM {ROWS}") > 0
        or bool(_reject_candidates(ws.engine, person))
        or any(names for f in _reject_files(ws) for _, names in _file_rows(f, person))
    )
    if not held:
        raise NotFoundError(f"no person matches {key!r} (nothing is held about them)")
    return person


def _list_rows(engine: DuckDBEngine, profile_id: str | None, emails: tuple[str, ...]) -> None:
    """Fill `ROWS`: the profile's records and linked rows, referrals naming one of its
    emails as the referee, and every mention by a handle one of its mentions was posted by
    (a handle is a person's even where a post was not linked to a customer id)."""
    engine.execute(
        f"""CREATE OR REPLACE TEMP TABLE {ROWS} AS
        SELECT DISTINCT kind, source, id FROM (
            SELECT 'customers' AS kind, source, customer_id AS id FROM profile_records
            WHERE profile_id = $p
            UNION ALL
            SELECT CASE WHEN kind IN ('referrer', 'referee') THEN 'referrals' ELSE kind END,
                   source, id FROM profile_links WHERE profile_id = $p
            UNION ALL
            SELECT 'referrals', source, referral_id FROM referrals
            WHERE list_contains($emails::VARCHAR[], lower(trim(referee_email))))""",
        {"p": profile_id, "emails": list(emails)},
    )
    engine.execute(
        f"""INSERT INTO {ROWS}
        SELECT DISTINCT 'mentions', 'default', m.mention_id FROM mentions m
        JOIN (SELECT DISTINCT h.platform, lower(trim(h.author)) AS author FROM mentions h
              JOIN {ROWS} k ON k.kind = 'mentions' AND k.id = h.mention_id) a
          ON a.platform = m.platform AND a.author = lower(trim(m.author))
        ANTI JOIN {ROWS} k ON k.kind = 'mentions' AND k.id = m.mention_id"""
    )


@contextmanager
def _person(ws: Workspace, key: str) -> Iterator[Person]:
    try:
        yield _find_person(ws, key)
    finally:
        ws.engine.execute(f"DROP TABLE IF EXISTS {ROWS}")


# -- where the person's rows are ----------------------------------------------------------
def _kind_match(kind: str) -> str:
    """SQL condition on table alias `t`: the row of `kind` is one of the person's."""
    key = KINDS[kind].key
    id_column = next(c for c in key if c != "source")
    same_source = " AND k.source = t.source" if "source" in key else ""
    return (
        f"EXISTS (SELECT 1 FROM {ROWS} k WHERE k.kind = {literal(kind)} "
        f"AND k.id = t.{ident(id_column)}{same_source})"
    )


_ROW_KEY_MATCH = (
    f"EXISTS (SELECT 1 FROM {ROWS} k WHERE k.source = t.source AND k.id = t.id AND k.kind = "
    "CASE WHEN t.kind IN ('referrer', 'referee') THEN 'referrals' ELSE t.kind END)"
)


def _derived_tables(engine: DuckDBEngine) -> dict[str, str]:
    """Every other table with a `profile_id` or a (kind, source, id) row key, and the SQL
    condition selecting the person's rows in it. Found by their columns, so a table a later
    analysis adds is covered without a change here."""
    skip = {*KINDS, *SYSTEM_TABLES, SENTIMENT_TABLE}
    tables = engine.fetchall(
        "SELECT c.table_name, list(c.column_name) FROM information_schema.columns c "
        "JOIN information_schema.tables t USING (table_catalog, table_schema, table_name) "
        "WHERE t.table_catalog = current_database() AND t.table_schema = 'main' "
        "AND t.table_type = 'BASE TABLE' GROUP BY 1 ORDER BY 1"
    )
    found: dict[str, str] = {}
    for name, columns in tables:
        conditions = ["t.profile_id = $p"] if "profile_id" in columns else []
        if {"kind", "source", "id"} <= set(columns):
            conditions.append(_ROW_KEY_MATCH)
        if name not in skip and conditions:
            found[name] = " OR ".join(conditions)
    return found


def _rows(engine: DuckDBEngine, sql: str, params: Any = None) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts (JSON columns parsed, dates ISO, decimals as strings)."""
    cursor = engine.execute(sql, params)
    names = [d[0] for d in cursor.description]
    is_json = [str(d[1]) == "JSON" for d in cursor.description]
    return [
        {
            n: _jsonable(json.loads(v) if j and isinstance(v, str) else v)
            for n, j, v in zip(names, is_json, row, strict=True)
        }
        for row in cursor.fetchall()
    ]


def _jsonable(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace(_SEP, ":")  # identity node keys read as `r:crm:17`
    if value is None or isinstance(value, bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return str(value)


# -- rejected rows ------------------------------------------------------------------------
def _reject_candidates(engine: DuckDBEngine, person: Person) -> list[tuple[int, Any, Any]]:
    """(rowid, record, raw) of `ingest_rejects` rows that name the person. SQL keeps the
    rows containing one of their identifiers anywhere; `Person.is_named_in` then compares
    whole values."""
    text = "lower(coalesce(CAST(record AS VARCHAR), '') || chr(10) || coalesce(raw, ''))"
    rows = engine.fetchall(
        f"SELECT rowid, record, raw FROM ingest_rejects WHERE "
        f"EXISTS (SELECT 1 FROM unnest($terms::VARCHAR[]) u(x) WHERE contains({text}, u.x)) "
        f"OR EXISTS (SELECT 1 FROM unnest($tails::VARCHAR[]) u(x) "
        f"WHERE contains(regexp_replace({text}, '[^0-9]', '', 'g'), u.x))",
        {"terms": person.search_terms(), "tails": person.phone_tails()},
    )
    return [
        (rowid, record, raw)
        for rowid, record, raw in rows
        if person.is_named_in(_parsed(record), raw)
    ]


def _reject_files(ws: Workspace) -> list[Path]:
    return sorted(ws.rejects_dir.glob("*.rejected.csv")) if ws.rejects_dir.is_dir() else []


def _file_rows(path: Path, person: Person) -> Iterator[tuple[list[str], bool]]:
    """Each line of a rejects file (header first) and whether it names the person."""
    with _wide_csv_fields(), path.open(encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return
        yield header, False
        data = [i for i, h in enumerate(header) if not h.lower().startswith("_reject_")]
        raw_at = header.index("_reject_raw") if "_reject_raw" in header else None
        for row in reader:
            record = {header[i]: row[i] for i in data if i < len(row)}
            raw = row[raw_at] if raw_at is not None and raw_at < len(row) else None
            yield row, person.is_named_in(record, raw)


def _rewrite_reject_files(ws: Workspace, person: Person) -> int:
    """Write every rejects file that names the person again without those lines: each
    through a temporary file and `os.replace`, so a file is never half written. Done before
    the warehouse transaction: if that fails, the person is still found and erasing again
    completes the job."""
    removed = 0
    for path in _reject_files(ws):
        tmp = path.with_name(path.name + ".tmp")
        dropped = 0
        try:
            with tmp.open("w", encoding="utf-8", newline="") as out:
                writer = csv.writer(out, lineterminator="\n")
                for row, names in _file_rows(path, person):
                    dropped += names
                    if not names:
                        writer.writerow(row)
            if dropped:
                os.replace(tmp, path)
                removed += dropped
        finally:
            tmp.unlink(missing_ok=True)
    return removed


@contextmanager
def _wide_csv_fields() -> Iterator[None]:
    """Rejected raw lines can be long (up to the loader's 10 MB line limit)."""
    previous = csv.field_size_limit()
    csv.field_size_limit(min(sys.maxsize, 2**31 - 1))
    try:
        yield
    finally:
        csv.field_size_limit(previous)


def _parsed(record: Any) -> Mapping[str, Any] | None:
    value = json.loads(record) if isinstance(record, str) else record
    return value if isinstance(value, Mapping) else None


def _fields(raw: str) -> list[str]:
    """The values of a line no reader could split into columns: its CSV fields, and its
    words, for a broken JSON line (`{"email": "ann@x.com",` holds `ann@x.com`)."""
    with _wide_csv_fields():
        try:
            fields = next(csv.reader([raw]), [])
        except csv.Error:
            fields = []
    return fields + re.findall(r"[^\s,;\"'{}\[\]()<>=:|]+", raw)


def _texts(value: Any) -> Iterator[str]:
    """Every scalar inside a value, including inside JSON text (attributes, properties)."""
    if value is None:
        return
    if isinstance(value, Mapping):
        for v in value.values():
            yield from _texts(v)
    elif isinstance(value, list | tuple):
        for v in value:
            yield from _texts(v)
    else:
        text = str(value)
        yield text
        if text.lstrip()[:1] in ("{", "["):
            yield from _texts(_json_or_none(text))


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return None if value is None else str(value).strip()


# -- export -------------------------------------------------------------------------------
def export_person(ws: Workspace, key: str) -> dict[str, Any]:
    """Everything the workspace holds about the person `key` names, as one JSON-ready
    document: their identifiers, their rows of every contract kind (referrals as referrer
    or referee), the rejected input rows naming them (table and files) and the data derived
    from them. Raises NotFoundError when nothing matches."""
    with _person(ws, key) as person:
        e = ws.engine
        doc: dict[str, Any] = {
            "profile_id": person.profile_id,
            "exported_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "identifiers": person.identifiers(),
        }
        for kind in PERSONAL_KINDS:
            order = ", ".join(ident(c) for c in KINDS[kind].key)
            doc[kind] = _rows(
                e,
                f"SELECT * EXCLUDE (_hash) FROM {ident(kind)} t WHERE {_kind_match(kind)} "
                f"ORDER BY {order}",
            )
        rowids = [r for r, _, _ in _reject_candidates(e, person)]
        doc["ingest_rejects"] = _rows(
            e,
            "SELECT * FROM ingest_rejects WHERE list_contains($ids::BIGINT[], rowid) "
            'ORDER BY path, "row"',
            {"ids": rowids},
        )
        doc["rejects_files"] = _exported_files(ws, person)
        derived: dict[str, Any] = {"note": DERIVED_NOTE}
        for table, condition in _derived_tables(e).items():
            sql = f"SELECT * FROM {ident(table)} t WHERE {condition} ORDER BY ALL"
            derived[table] = _rows(e, sql, {"p": person.profile_id} if "$p" in sql else None)
        doc["derived"] = derived
        from cxloop.programs.privacy import advocacy_data, closed_loop_data, program_data

        doc["loyalty"] = program_data(ws.path, ws.config, person.profile_id)
        doc["closed_loop"] = closed_loop_data(ws.path, ws.config, person.profile_id)
        doc["advocacy"] = advocacy_data(ws.path, ws.config, person.profile_id)
    return doc


def _exported_files(ws: Workspace, person: Person) -> list[dict[str, Any]]:
    files = []
    for path in _reject_files(ws):
        lines = iter(_file_rows(path, person))
        header = next(lines, ([], False))[0]
        rows = [dict(zip(header, row, strict=False)) for row, names in lines if names]
        if rows:
            files.append({"file": str(path.relative_to(ws.path)), "rows": rows})
    return files


# -- erasure ------------------------------------------------------------------------------
def erase_person(
    ws: Workspace, key: str, *, actor: str = "cli", reason: str = ""
) -> dict[str, Any]:
    """Erase the person `key` names from every table and rejects file; return the audit
    record (also appended to `erasure_log`).

    All warehouse changes commit together: their rows of every contract kind, the derived
    rows (`_derived_tables`), sentiment cached for texts only they wrote, and the rejected
    rows naming them. The data version moves, so the profiles, VoC signals and persona
    assignments are recomputed without them on next use.

    The audit row holds no personal data, nor a hash of any: a salted hash whose salt sits
    in the same workspace is pseudonymous, not anonymous (GDPR recital 26: anyone holding
    the workspace could test a suspected email against it), which would keep the very link
    the erasure removes. A repeated request is recognised without it: nothing matches, so
    NotFoundError. `reason` is stored verbatim: give a ticket number, not the person.
    """
    with _person(ws, key) as person:
        _check_no_identifiers(person, actor=actor, reason=reason)
        from cxloop.programs.privacy import forget_member

        # The program store first: if the warehouse step then fails, a second request
        # still finds the person and finishes; the other order could strand the link.
        members_unlinked = forget_member(ws.path, ws.config, person.profile_id)
        reject_file_lines = _rewrite_reject_files(ws, person)
        e = ws.engine
        with e.transaction():
            deleted = _delete_rows(ws, person)
            if members_unlinked:
                deleted["loyalty_members_unlinked"] = members_unlinked
            e.execute(
                "INSERT OR REPLACE INTO meta VALUES ('data_version', "
                "CAST(coalesce((SELECT CAST(value AS BIGINT) FROM meta "
                "WHERE key = 'data_version'), 0) + 1 AS VARCHAR))"
            )
            erasure_id, erased_at = uuid.uuid4().hex, datetime.now(UTC).replace(microsecond=0)
            version = ws.data_version
            e.execute(
                "INSERT INTO erasure_log VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    erasure_id,
                    erased_at.replace(tzinfo=None),
                    actor,
                    reason,
                    json.dumps(deleted),
                    reject_file_lines,
                    version,
                ],
            )
    return {
        "erasure_id": erasure_id,
        "erased_at": erased_at.isoformat(),
        "actor": actor,
        "reason": reason,
        "rows_deleted": deleted,
        "reject_file_lines": reject_file_lines,
        "data_version": version,
    }


def _delete_rows(ws: Workspace, person: Person) -> dict[str, int]:
    """Delete the person's rows everywhere (inside the caller's transaction); rows per table."""
    e = ws.engine
    texts = _texts_of(e)
    deleted: dict[str, int] = {}
    for kind in PERSONAL_KINDS:
        deleted[kind] = _count(e.execute(f"DELETE FROM {ident(kind)} t WHERE {_kind_match(kind)}"))
    for table, condition in _derived_tables(e).items():
        sql = f"DELETE FROM {ident(table)} t WHERE {condition}"
        deleted[table] = _count(e.execute(sql, {"p": person.profile_id} if "$p" in sql else None))
    if e.table_exists(SENTIMENT_TABLE):
        deleted[SENTIMENT_TABLE] = _delete_sentiment(e, texts)
    rowids = [r for r, _, _ in _reject_candidates(e, person)]
    deleted["ingest_rejects"] = _count(
        e.execute(
            "DELETE FROM ingest_rejects WHERE list_contains($ids::BIGINT[], rowid)", {"ids": rowids}
        )
    )
    return deleted


def _texts_of(engine: DuckDBEngine) -> list[str]:
    """The person's feedback and mention texts (before their rows are deleted)."""
    return [
        r[0]
        for r in engine.fetchall(
            f"SELECT text FROM feedback t WHERE {_kind_match('feedback')} AND text <> '' "
            f"UNION SELECT text FROM mentions t WHERE {_kind_match('mentions')} AND text <> ''"
        )
    ]


def _delete_sentiment(engine: DuckDBEngine, texts: list[str]) -> int:
    """Cached sentiment (keyed by a hash of the text, it holds no text) of texts no one else
    wrote: a hash of a short text can be matched against a guess, so it goes with them."""
    from cxloop.analytics.voc.sentiment import text_hash

    shared = {
        r[0]
        for r in engine.fetchall(
            "SELECT text FROM feedback WHERE list_contains($t::VARCHAR[], text) "
            "UNION SELECT text FROM mentions WHERE list_contains($t::VARCHAR[], text)",
            {"t": texts},
        )
    }
    hashes = [text_hash(t) for t in texts if t not in shared]
    return _count(
        engine.execute(
            f"DELETE FROM {SENTIMENT_TABLE} WHERE list_contains($h::VARCHAR[], text_hash)",
            {"h": hashes},
        )
    )


def _count(cursor: Any) -> int:
    row = cursor.fetchone()
    return int(row[0]) if row else 0


def _check_no_identifiers(person: Person, *, actor: str, reason: str) -> None:
    """The audit row is kept forever: refuse an actor or reason that names the person."""
    words = set(re.findall(r"[^\s,;:()\[\]<>\"']+", f"{actor} {reason}".lower()))
    named = words & {*person.search_terms(), (person.profile_id or "").lower()}
    if named or any(person.has_phone(w) for w in words):
        raise CxloopError(
            "the actor and reason are kept in the erasure log and must not name the person "
            "(give a ticket number instead)"
        )
