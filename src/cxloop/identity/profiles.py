"""Unified customer profiles: build them, summarise them, look one up.

`build()` recomputes every profile from the warehouse (deterministic, order-independent,
re-runnable) and links every event, order, feedback answer, mention and referral to its
profile. A profile is named by its smallest source record (`r` node key), so the same data
always gives the same ids, and new events, cookies or emails of a customer never rename it;
only a merge with a profile whose smallest record key is smaller does. Profiles without a
source record fall back to a referenced record, then an email or phone, then an anonymous id.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from cxloop.errors import CxloopError
from cxloop.identity import graph
from cxloop.identity.components import connected_components
from cxloop.identity.matching import matcher
from cxloop.identity.matching.review import profile_matches, review_pairs

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

# The shape of the tables a build writes; a workspace built with another shape is rebuilt.
PROFILES_SCHEMA = 3

PERSIST_SQL = [
    # Every node with its profile. A component's label is its smallest nid, and nids follow
    # the naming order (graph.NODES_SQL), so the label's node is the one that names it.
    f"""CREATE OR REPLACE TABLE profile_nodes AS
    SELECT n.node, split_part(n.node, {graph.SEP}, 1) AS node_type,
           'P' || substr(md5(m.node), 1, 16) AS profile_id
    FROM id_nodes n JOIN id_final_labels l USING (nid) JOIN id_nodes m ON m.nid = l.label""",
    """CREATE OR REPLACE TABLE profile_records AS
    SELECT r.source, r.customer_id, p.profile_id, r.email_n AS email, r.phone_n AS phone
    FROM id_records r JOIN profile_nodes p ON p.node = r.node""",
    """CREATE OR REPLACE TABLE identity_edges AS
    SELECT p.profile_id, e.a, e.b, e.rule FROM id_edges_named e
    JOIN profile_nodes p ON p.node = e.a""",
    """CREATE OR REPLACE TABLE identity_skipped AS SELECT * FROM id_skipped""",
    # Scored record pairs of probabilistic matching (empty when it is off), with the profile
    # each record ended in: merged pairs explain their edge, review pairs await a person.
    """CREATE OR REPLACE TABLE identity_matches AS
    SELECT m.status, m.reason, m.match_probability, m.match_weight, m.personal_weight,
           m.agreeing, m.contributions, m.a, m.b, pa.profile_id AS profile_a,
           pb.profile_id AS profile_b
    FROM id_match_pairs m JOIN profile_nodes pa ON pa.node = m.a
    JOIN profile_nodes pb ON pb.node = m.b""",
    """CREATE OR REPLACE TABLE profile_links AS
    SELECT r.kind, r.source, r.id, p.profile_id FROM id_refs r
    LEFT JOIN profile_nodes p ON p.node = coalesce(r.ref, r.email_node, r.anon_node)""",
    # Events with their profile, ready for journey analyses: every analysis of behaviour
    # reads this narrow table instead of joining millions of events to their links again.
    """CREATE OR REPLACE TABLE profile_events AS
    SELECT l.profile_id, e.source, e.event_id, e.occurred_at, e.touchpoint, e.channel,
           coalesce(e.stage, tp.stage) AS stage, e.duration_s, e.success,
           json_extract_string(e.properties, '$.order_id') AS order_id
    FROM events e
    JOIN profile_links l ON l.kind = 'events' AND l.source = e.source AND l.id = e.event_id
    LEFT JOIN touchpoints tp ON tp.touchpoint = e.touchpoint""",
    """CREATE OR REPLACE TABLE profiles AS
    WITH recs AS (
        SELECT pr.profile_id, count(*) AS records, list(DISTINCT c.source ORDER BY c.source)
               AS sources,
               min(pr.email) AS email, min(pr.phone) AS phone,
               arg_min(c.first_name, c.created_at) AS first_name,
               arg_min(c.last_name, c.created_at) AS last_name,
               mode(c.country) AS country,
               mode(json_extract_string(c.attributes, '$.segment')) AS segment,
               bool_or(c.consent_marketing) AS consent_marketing,
               min(c.created_at) AS created_at
        FROM profile_records pr JOIN customers c USING (source, customer_id)
        GROUP BY pr.profile_id
    ), nodes AS (
        SELECT profile_id,
               count(*) FILTER (WHERE node_type = 'a') AS anonymous_ids,
               bool_or(node_type IN ('r', 'e', 'p')) AS known
        FROM profile_nodes GROUP BY profile_id
    )
    SELECT n.profile_id, coalesce(r.records, 0) AS record_count,
           coalesce(r.sources, []) AS sources, r.email, r.phone, r.first_name, r.last_name,
           r.country, r.segment, coalesce(r.consent_marketing, false) AS consent_marketing,
           r.created_at, n.anonymous_ids, n.known
    FROM nodes n LEFT JOIN recs r USING (profile_id)""",
]


# Pairs for clerical review: in the band, not merged, and not already in one profile (the
# rules or other matches joined them, so there is nothing left to decide), unless the model
# judged them two people and other links joined them anyway (matcher.CONTRADICTED_SQL).
REVIEW_SQL = f"""SELECT * FROM identity_matches m
    WHERE status = 'review' AND (profile_a <> profile_b OR {matcher.CONTRADICTED_SQL})"""


@dataclass(frozen=True)
class ProfileSummary:
    """Counts that describe the unified profiles (`cxloop profiles`)."""

    profiles: int
    known_profiles: int
    anonymous_profiles: int
    source_records: int
    merged_records: int
    by_rule: dict[str, int]
    skipped_identifiers: int
    rounds: int
    review_pairs: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class Profiles:
    """The profiles namespace of a workspace (`ws.profiles`)."""

    def __init__(self, workspace: Workspace) -> None:
        self.ws = workspace
        self.engine = workspace.engine

    def _params(self) -> dict[str, Any]:
        ident = self.ws.config.identity
        return {
            "default_country": self.ws.config.locale.default_country,
            "placeholder_emails": list(ident.placeholder_emails),
            "match_email": ident.match_email,
            "match_phone": ident.match_phone,
            "stitch_anonymous_id": ident.stitch_anonymous_id,
            "max_records": ident.max_records_per_identifier,
        }

    def _run(self, sql: str) -> Any:
        wanted = set(re.findall(r"\$([a-z_]+)", sql))
        params = {k: v for k, v in self._params().items() if k in wanted}
        return self.engine.execute(sql, params or None)

    def build(self, *, retrain: bool = False) -> ProfileSummary:
        """Recompute all profiles from the warehouse and link every record to one.

        Nothing is written unless the components converged (ConvergenceError otherwise), so
        a failed build leaves the previous profiles in place. With `[identity] probabilistic`
        on, the saved matching model scores the records (trained first when there is none,
        or again when `retrain`).
        """
        from cxloop.identity.normalize import phone_regions

        e = self.engine
        # Stamped with the version read before reading the data: if another connection
        # commits during the build, the profiles look stale afterwards (and are rebuilt)
        # instead of claiming data they never saw.
        version = self.ws.data_version
        try:
            e.execute(
                "CREATE OR REPLACE TEMP TABLE id_phone_regions (region VARCHAR, cc VARCHAR, "
                "national_prefix VARCHAR, min_len INTEGER, max_len INTEGER, pattern VARCHAR)"
            )
            e.con.executemany(
                "INSERT INTO id_phone_regions VALUES (?, ?, ?, ?, ?, ?)", phone_regions()
            )
            for sql in graph.PHASE1_SQL:
                self._run(sql)
                if sql is graph.RAW_EDGES_SQL:
                    self._match(retrain=retrain)
            rounds = connected_components(e, "id_nodes", "id_edges", "id_labels")
            for sql in graph.PHASE2_SQL:
                self._run(sql)
            with e.transaction():
                for sql in PERSIST_SQL:
                    e.execute(sql)
                e.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('profiles_rounds', ?)", [str(rounds)]
                )
                e.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('profiles_data_version', ?)",
                    [str(version)],
                )
                e.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('profiles_schema', ?)",
                    [str(PROFILES_SCHEMA)],
                )
                e.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('profiles_identity', ?)",
                    [self._rules_fingerprint()],
                )
                # A new id per build: analyses that store profile ids (VoC texts, segments)
                # know they are stale after a rebuild, even with the same data.
                e.execute(
                    "INSERT OR REPLACE INTO meta VALUES ('profiles_build', ?)",
                    [uuid.uuid4().hex],
                )
        finally:
            for table in (*graph.TEMP_TABLES, *matcher.TEMP_TABLES):
                e.execute(f"DROP TABLE IF EXISTS {table}")
        return self.summary()

    def _match(self, *, retrain: bool) -> None:
        """Probabilistic matching (when on): accepted pairs join the rules' edges."""
        if not self.ws.config.identity.probabilistic:
            self.engine.execute(matcher.EMPTY_PAIRS_SQL)
            return
        matcher.ProbabilisticMatcher(self.ws).score(retrain=retrain)
        self.engine.execute(
            "INSERT INTO id_raw_edges SELECT a, b, 'probabilistic' FROM id_match_pairs "
            "WHERE status = 'match'"
        )

    def train_matching(self) -> dict[str, Any]:
        """Fit the probabilistic matching model again and rebuild the profiles with it."""
        if not self.ws.config.identity.probabilistic:
            raise CxloopError(
                "probabilistic matching is off: set [identity] probabilistic = true first"
            )
        self.build(retrain=True)
        return matcher.ProbabilisticMatcher(self.ws).load_model() or {}

    @property
    def built(self) -> bool:
        return self.engine.table_exists("profiles")

    def ensure_current(self) -> None:
        """Build the profiles when they are missing or older than the data: every analysis
        over profiles calls this instead of checking for itself (one rebuild at a time per
        process: `Workspace.derive_lock`)."""
        with self.ws.derive_lock:
            if not self.built or self.stale:
                self.build()

    @property
    def stale(self) -> bool:
        """True when data was loaded after the profiles were built, when they were built by a
        version of cxloop whose profile tables had another shape, or under other identity
        settings or another matching model (switching probabilistic matching on rebuilds)."""
        built_at = self.engine.scalar("SELECT value FROM meta WHERE key = 'profiles_data_version'")
        shape = self.engine.scalar("SELECT value FROM meta WHERE key = 'profiles_schema'")
        rules = self.engine.scalar("SELECT value FROM meta WHERE key = 'profiles_identity'")
        return (
            built_at is None
            or int(built_at) != self.ws.data_version
            or shape != str(PROFILES_SCHEMA)
            or rules != self._rules_fingerprint()
        )

    def _rules_fingerprint(self) -> str:
        """The identity settings and, with matching on, the saved model: what profiles obey."""
        ident = self.ws.config.identity
        parts = [repr(sorted(asdict(ident).items()))]
        if ident.probabilistic:
            model = matcher.ProbabilisticMatcher(self.ws).model_path
            parts.append(
                hashlib.sha256(model.read_bytes()).hexdigest() if model.is_file() else "none"
            )
        return hashlib.sha256("|".join(parts).encode()).hexdigest()

    def summary(self) -> ProfileSummary:
        """Counts of profiles, records and merges by rule (builds profiles if needed)."""
        if not self.built:
            return self.build()
        e = self.engine
        profiles, known = e.fetchone("SELECT count(*), count(*) FILTER (WHERE known) FROM profiles")
        records, record_profiles = e.fetchone(
            "SELECT count(*), count(DISTINCT profile_id) FROM profile_records"
        )
        by_rule = {rule: 0 for rule in ("email", "phone", "anonymous_id", "probabilistic")}
        # email/phone: identifier values that joined two or more nodes; anonymous_id: cookies
        # stitched to a known person.
        for rule, n in e.fetchall(
            "SELECT rule, count(*) FROM (SELECT rule, b FROM identity_edges "
            "WHERE rule IN ('email', 'phone') GROUP BY rule, b HAVING count(DISTINCT a) > 1) "
            "GROUP BY rule UNION ALL SELECT 'anonymous_id', count(DISTINCT b) "
            "FROM identity_edges WHERE rule = 'anonymous_id'"
        ):
            by_rule[rule] = int(n)
        by_rule["probabilistic"] = int(
            e.scalar("SELECT count(*) FROM identity_matches WHERE status = 'match'")
        )
        review = int(e.scalar(f"SELECT count(*) FROM ({REVIEW_SQL})"))
        skipped = e.scalar("SELECT count(*) FROM identity_skipped")
        rounds = int(e.scalar("SELECT value FROM meta WHERE key = 'profiles_rounds'") or 0)
        return ProfileSummary(
            profiles=int(profiles),
            known_profiles=int(known),
            anonymous_profiles=int(profiles - known),
            source_records=int(records),
            merged_records=int(records - record_profiles),
            by_rule=by_rule,
            skipped_identifiers=int(skipped),
            rounds=rounds,
            review_pairs=review,
        )

    def review(self, *, limit: int = 100) -> list[dict[str, Any]]:
        """Borderline pairs of probabilistic matching for clerical review (docs/identity.md)."""
        self.ensure_current()
        return review_pairs(self.engine, limit=limit)

    def lookup(self, key: str, *, timeline_limit: int = 50) -> dict[str, Any] | None:
        """One profile by profile id, `source:customer_id`, customer id, email or anonymous id.

        A bare customer id can exist in several sources (crm:17 and shop:17 are different
        people); rather than pick one silently, an ambiguous key raises CxloopError naming the
        candidates as `source:customer_id`. Returns None when nothing matches.
        """
        if not self.built:
            self.build()
        e = self.engine
        profile_id = self._resolve(key.strip())
        if profile_id is None:
            return None
        cols = [d[0] for d in e.execute("SELECT * FROM profiles LIMIT 0").description]
        row = e.fetchone("SELECT * FROM profiles WHERE profile_id = ?", [profile_id])
        profile = dict(zip(cols, row, strict=True))
        records = e.fetchall(
            "SELECT c.source, c.customer_id, c.email, c.phone, c.first_name, c.last_name, "
            "c.created_at FROM profile_records pr JOIN customers c USING (source, customer_id) "
            "WHERE pr.profile_id = ? ORDER BY c.source, c.customer_id",
            [profile_id],
        )
        links = e.fetchall(
            f"SELECT rule, replace(a, {graph.SEP}, ':'), replace(b, {graph.SEP}, ':') "
            "FROM identity_edges WHERE profile_id = ? ORDER BY rule, a, b",
            [profile_id],
        )
        timeline = e.fetchall(
            """SELECT "at", what, detail FROM (
                SELECT ev.occurred_at AS "at", 'event' AS what,
                       ev.touchpoint || coalesce(' (' || ev.channel || ')', '') AS detail
                FROM profile_links l JOIN events ev ON l.kind = 'events'
                 AND ev.source = l.source AND ev.event_id = l.id WHERE l.profile_id = $p
                UNION ALL
                SELECT o.ordered_at, 'order', o.status || ' ' || CAST(o.amount AS VARCHAR)
                       || ' ' || coalesce(o.currency, '')
                FROM profile_links l JOIN orders o ON l.kind = 'orders'
                 AND o.source = l.source AND o.order_id = l.id WHERE l.profile_id = $p
                UNION ALL
                SELECT f.submitted_at, 'feedback',
                       f.metric || coalesce(' ' || CAST(f.score AS VARCHAR), '')
                       || coalesce(' @' || f.touchpoint, '')
                FROM profile_links l JOIN feedback f ON l.kind = 'feedback'
                 AND f.source = l.source AND f.response_id = l.id WHERE l.profile_id = $p
            ) ORDER BY "at" DESC LIMIT $n""",
            {"p": profile_id, "n": timeline_limit},
        )
        profile["records"] = [
            dict(
                zip(
                    (
                        "source",
                        "customer_id",
                        "email",
                        "phone",
                        "first_name",
                        "last_name",
                        "created_at",
                    ),
                    r,
                    strict=True,
                )
            )
            for r in records
        ]
        node_names = {"r": "record", "e": "email", "p": "phone", "a": "anonymous_id"}
        profile["identifiers"] = [
            {"type": node_names.get(t, t), "value": v}
            for t, v in e.fetchall(
                "SELECT node_type, substr(node, 3) FROM profile_nodes WHERE profile_id = ? "
                "ORDER BY node",
                [profile_id],
            )
        ]
        for item in profile["identifiers"]:
            item["value"] = item["value"].replace("\x1f", ":")
        profile["links"] = [{"rule": r, "from": a, "to": b} for r, a, b in links]
        profile["matches"] = profile_matches(e, profile_id)
        profile["timeline"] = [{"at": a, "what": w, "detail": d} for a, w, d in timeline]
        return profile

    def _resolve(self, needle: str) -> str | None:
        """The one profile id a lookup key names (see `lookup`), or None."""
        # Tier 0: a profile id; 1: source:customer_id; 2: bare customer id, email, anonymous id.
        # The best tier that matches decides; two profiles in it make the key ambiguous.
        rows = self.engine.fetchall(
            f"""WITH hits AS (
                SELECT 0 AS tier, profile_id, NULL AS rec FROM profiles WHERE profile_id = $k
                UNION ALL
                SELECT CASE WHEN split_part(node, {graph.SEP}, 2) || ':'
                                 || split_part(node, {graph.SEP}, 3) = $k THEN 1 ELSE 2 END,
                       profile_id, replace(substr(node, 3), {graph.SEP}, ':')
                FROM profile_nodes WHERE node_type = 'r' AND (
                    split_part(node, {graph.SEP}, 3) = $k
                    OR split_part(node, {graph.SEP}, 2) || ':'
                       || split_part(node, {graph.SEP}, 3) = $k)
                UNION ALL
                SELECT 2, profile_id, source || ':' || customer_id FROM profile_records
                WHERE email = lower($k)
                UNION ALL
                SELECT 2, profile_id, NULL FROM profile_nodes
                WHERE (node_type = 'e' AND substr(node, 3) = lower($k))
                   OR (node_type = 'a' AND substr(node, 3) = $k)
            ), best AS (SELECT * FROM hits WHERE tier = (SELECT min(tier) FROM hits))
            SELECT profile_id, list(DISTINCT rec ORDER BY rec) FILTER (WHERE rec IS NOT NULL)
            FROM best GROUP BY profile_id ORDER BY min(rec), profile_id""",
            {"k": needle},
        )
        if len(rows) <= 1:
            return rows[0][0] if rows else None
        candidates = ", ".join(
            f"{' / '.join(recs) if recs else pid} ({pid})" for pid, recs in rows[:10]
        )
        more = f" and {len(rows) - 10} more" if len(rows) > 10 else ""
        raise CxloopError(
            f"{needle!r} matches {len(rows)} profiles: {candidates}{more}; "
            "look up one by source:customer_id or profile id"
        )
