"""Identity graph SQL: nodes, edges and connected components, computed in the engine.

Nodes are source records (`r`), identifier values (`e` email, `p` phone) and anonymous ids
(`a`). An edge says "these belong together" and names its rule. Profiles are the connected
components (transitive merges), found in two phases: first over known identity (records,
emails, phones, references; see `components.py`), then each anonymous id joins the single
component it was seen with, and one seen with several known people joins none. A cookie is
weak evidence; it may complete a person, never merge two.
"""

from __future__ import annotations

from cxloop.identity.normalize import email_sql, phone_sql

SEP = "chr(31)"  # a separator that cannot occur in ids read from text files
SEP_CHAR = chr(31)  # the same separator in Python, to split node keys read back


def record_node(source: str, customer_id: str) -> str:
    return f"('r' || {SEP} || {source} || {SEP} || {customer_id})"


RECORDS_SQL = f"""
CREATE OR REPLACE TEMP TABLE id_records AS
SELECT c.source, c.customer_id,
       {record_node("c.source", "c.customer_id")} AS node,
       {email_sql("c.email")} AS email_n,
       {phone_sql("c.phone", "c.country")} AS phone_n
FROM customers c
LEFT JOIN id_phone_regions pr ON pr.region = CASE
    WHEN c.country IN (SELECT region FROM id_phone_regions) THEN c.country
    ELSE $default_country END
"""

UNIQUE_IDS_SQL = """
CREATE OR REPLACE TEMP TABLE id_unique_ids AS
SELECT customer_id, any_value(node) AS node FROM id_records
GROUP BY customer_id HAVING count(*) = 1
"""


def reference_sql(
    kind: str,
    table: str,
    source: str,
    key: str,
    customer_id: str,
    email: str | None,
    anonymous_id: str | None,
) -> str:
    """SELECT of one kind's customer references: (kind, source, id, ref, email, anon).

    A reference names a record by (source, customer_id). When the source was not given
    ('default') and no such record exists, a customer id that is unique across sources is
    taken; otherwise the reference stands for a record we have not seen (still a person).
    """
    email_expr = email_sql(f"t.{email}") if email else "CAST(NULL AS VARCHAR)"
    anon_expr = (
        f"CASE WHEN NULLIF(trim(t.{anonymous_id}), '') IS NOT NULL "
        f"THEN 'a' || {SEP} || trim(t.{anonymous_id}) END"
        if anonymous_id
        else "CAST(NULL AS VARCHAR)"
    )
    return f"""
SELECT '{kind}' AS kind, {source} AS source, t.{key} AS id,
       CASE WHEN t.{customer_id} IS NULL THEN NULL
            WHEN r.node IS NOT NULL THEN r.node
            WHEN {source} = 'default' AND u.node IS NOT NULL THEN u.node
            ELSE {record_node(source, "t." + customer_id)} END AS ref,
       CASE WHEN {email_expr} IS NOT NULL THEN 'e' || {SEP} || {email_expr} END AS email_node,
       {anon_expr} AS anon_node
FROM {table} t
LEFT JOIN id_records r ON r.source = {source} AND r.customer_id = t.{customer_id}
LEFT JOIN id_unique_ids u ON u.customer_id = t.{customer_id}
"""


REFERENCES = (
    reference_sql(
        "events", "events", "t.source", "event_id", "customer_id", "email", "anonymous_id"
    ),
    reference_sql("orders", "orders", "t.source", "order_id", "customer_id", "email", None),
    reference_sql("feedback", "feedback", "t.source", "response_id", "customer_id", "email", None),
    reference_sql("mentions", "mentions", "'default'", "mention_id", "customer_id", None, None),
    reference_sql("referrer", "referrals", "t.source", "referral_id", "referrer_id", None, None),
    reference_sql("referee", "referrals", "t.source", "referral_id", "referee_id", None, None),
)

REFS_SQL = "CREATE OR REPLACE TEMP TABLE id_refs AS\n" + "\nUNION ALL\n".join(REFERENCES)

# Candidate edges before the placeholder guard.
RAW_EDGES_SQL = f"""
CREATE OR REPLACE TEMP TABLE id_raw_edges AS
SELECT DISTINCT a, b, rule FROM (
    SELECT node AS a, 'e' || {SEP} || email_n AS b, 'email' AS rule
    FROM id_records WHERE email_n IS NOT NULL AND $match_email
    UNION ALL
    SELECT node, 'p' || {SEP} || phone_n, 'phone'
    FROM id_records WHERE phone_n IS NOT NULL AND $match_phone
    UNION ALL
    SELECT ref, email_node, 'email' FROM id_refs
    WHERE ref IS NOT NULL AND email_node IS NOT NULL AND $match_email
    UNION ALL
    SELECT coalesce(ref, email_node), anon_node, 'anonymous_id' FROM id_refs
    WHERE anon_node IS NOT NULL AND coalesce(ref, email_node) IS NOT NULL
      AND $stitch_anonymous_id
)
"""

# An identifier value tying more records than the limit is a placeholder (a shop's phone,
# a shared inbox): it is evidence of nothing, so none of its edges count.
OVERSHARED_SQL = """
CREATE OR REPLACE TEMP TABLE id_overshared AS
SELECT b AS identifier, rule, count(DISTINCT a) AS shared_by,
       'placeholder ' || rule || ' shared by ' || count(DISTINCT a) || ' records' AS reason
FROM id_raw_edges WHERE rule IN ('email', 'phone')
GROUP BY b, rule HAVING count(DISTINCT a) > $max_records
"""

EDGES_SQL = """
CREATE OR REPLACE TEMP TABLE id_edges_named AS
SELECT e.* FROM id_raw_edges e ANTI JOIN id_overshared o ON o.identifier = e.b
"""

# Node numbers follow the order that names a profile (see PROFILE_NODES_SQL): source records
# first, then records only referenced, then emails and phones, then anonymous ids; by key
# within each. The smallest number of a component is then the node that names it, so adding
# a cookie or a new email to a customer never renames its profile.
NODES_SQL = """
CREATE OR REPLACE TEMP TABLE id_nodes AS
WITH nodes AS (
    SELECT node FROM id_records
    UNION SELECT coalesce(ref, email_node, anon_node) FROM id_refs
    WHERE coalesce(ref, email_node, anon_node) IS NOT NULL
    UNION SELECT anon_node FROM id_refs WHERE anon_node IS NOT NULL
    UNION SELECT a FROM id_edges_named
    UNION SELECT b FROM id_edges_named
)
SELECT node, row_number() OVER (ORDER BY CASE
    WHEN node IN (SELECT node FROM id_records) THEN 0 WHEN starts_with(node, 'r') THEN 1
    WHEN starts_with(node, 'a') THEN 3 ELSE 2 END, node) AS nid
FROM nodes
"""

# Phase 1 joins known identity only (records, emails, phones, references), both directions.
# Anonymous ids come in phase 2, so a cookie can never be the bridge between two people.
KNOWN_EDGES_SQL = """
CREATE OR REPLACE TEMP TABLE id_edges AS
WITH e AS (
    SELECT na.nid AS a, nb.nid AS b FROM id_edges_named e
    JOIN id_nodes na ON na.node = e.a JOIN id_nodes nb ON nb.node = e.b
    WHERE e.rule <> 'anonymous_id'
)
SELECT a, b FROM e UNION ALL SELECT b, a FROM e
"""

# Phase 2: the phase-1 components each anonymous id was seen with (customer side `a`).
ANON_SEEN_SQL = """
CREATE OR REPLACE TEMP TABLE id_anon_seen AS
SELECT e.b AS node, min(l.label) AS label, count(DISTINCT l.label) AS components
FROM id_edges_named e JOIN id_nodes n ON n.node = e.a JOIN id_labels l USING (nid)
WHERE e.rule = 'anonymous_id'
GROUP BY e.b
"""

# A cookie seen with two or more known people (a shared device, a tracker sending
# 'undefined') proves nothing: its edges are dropped and it stays an anonymous profile.
AMBIGUOUS_SQL = """
CREATE OR REPLACE TEMP TABLE id_ambiguous AS
SELECT node AS identifier, 'anonymous_id' AS rule, components AS shared_by,
       'shared anonymous id seen with ' || components || ' profiles' AS reason
FROM id_anon_seen WHERE components > 1
"""

DROP_AMBIGUOUS_SQL = """
DELETE FROM id_edges_named WHERE rule = 'anonymous_id'
AND b IN (SELECT identifier FROM id_ambiguous)
"""

# An unambiguous anonymous id joins the one component it was seen with. Its nid is larger
# than any known node's, so it never becomes the component's label (nor renames it).
ATTACH_SQL = """
CREATE OR REPLACE TEMP TABLE id_final_labels AS
SELECT l.nid, coalesce(s.label, l.label) AS label
FROM id_labels l JOIN id_nodes n USING (nid)
LEFT JOIN id_anon_seen s ON s.node = n.node AND s.components = 1
"""

SKIPPED_SQL = """
CREATE OR REPLACE TEMP TABLE id_skipped AS
SELECT identifier, rule, shared_by, reason FROM id_overshared
UNION ALL SELECT identifier, rule, shared_by, reason FROM id_ambiguous
"""

PHASE1_SQL = (
    RECORDS_SQL,
    UNIQUE_IDS_SQL,
    REFS_SQL,
    RAW_EDGES_SQL,
    OVERSHARED_SQL,
    EDGES_SQL,
    NODES_SQL,
    KNOWN_EDGES_SQL,
)
PHASE2_SQL = (ANON_SEEN_SQL, AMBIGUOUS_SQL, DROP_AMBIGUOUS_SQL, ATTACH_SQL, SKIPPED_SQL)

TEMP_TABLES = (
    "id_phone_regions",
    "id_records",
    "id_unique_ids",
    "id_refs",
    "id_raw_edges",
    "id_overshared",
    "id_edges_named",
    "id_nodes",
    "id_edges",
    "id_labels",
    "id_labels_next",
    "id_labels_jump",
    "id_anon_seen",
    "id_ambiguous",
    "id_final_labels",
    "id_skipped",
)
