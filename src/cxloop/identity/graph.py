"""Identity graph SQL: nodes, edges and connected components, computed in the engine.

Nodes are source records (`r`), identifier values (`e` email, `p` phone) and anonymous ids
(`a`). An edge says "these belong together" and names its rule. Profiles are the connected
components (transitive merges), found by min-label propagation with pointer jumping, so the
result does not depend on record order and the number of rounds grows with the graph's
diameter (a handful), not with its size.
"""

from __future__ import annotations

from cxloop.identity.normalize import email_sql, phone_sql

SEP = "chr(31)"  # a separator that cannot occur in ids read from text files


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
SELECT b AS identifier, count(DISTINCT a) AS records FROM id_raw_edges
WHERE rule IN ('email', 'phone')
GROUP BY b HAVING count(DISTINCT a) > $max_records
"""

EDGES_SQL = """
CREATE OR REPLACE TEMP TABLE id_edges_named AS
SELECT e.* FROM id_raw_edges e ANTI JOIN id_overshared o ON o.identifier = e.b
"""

NODES_SQL = """
CREATE OR REPLACE TEMP TABLE id_nodes AS
SELECT node, row_number() OVER (ORDER BY node) AS nid FROM (
    SELECT node FROM id_records
    UNION SELECT coalesce(ref, email_node, anon_node) FROM id_refs
    WHERE coalesce(ref, email_node, anon_node) IS NOT NULL
    UNION SELECT anon_node FROM id_refs WHERE anon_node IS NOT NULL
    UNION SELECT a FROM id_edges_named
    UNION SELECT b FROM id_edges_named
)
"""

INT_EDGES_SQL = """
CREATE OR REPLACE TEMP TABLE id_edges AS
SELECT na.nid AS a, nb.nid AS b FROM id_edges_named e
JOIN id_nodes na ON na.node = e.a JOIN id_nodes nb ON nb.node = e.b
UNION ALL
SELECT nb.nid, na.nid FROM id_edges_named e
JOIN id_nodes na ON na.node = e.a JOIN id_nodes nb ON nb.node = e.b
"""

INIT_LABELS_SQL = "CREATE OR REPLACE TEMP TABLE id_labels AS SELECT nid, nid AS label FROM id_nodes"

# One round: take the smallest label among neighbours, then jump to the label's own label.
PROPAGATE_SQL = """
CREATE OR REPLACE TEMP TABLE id_labels_next AS
WITH step AS (
    SELECT l.nid, least(l.label, coalesce(min(n.label), l.label)) AS label
    FROM id_labels l
    LEFT JOIN id_edges e ON e.a = l.nid
    LEFT JOIN id_labels n ON n.nid = e.b
    GROUP BY l.nid, l.label
)
SELECT s.nid, least(s.label, j.label) AS label FROM step s JOIN step j ON j.nid = s.label
"""

CHANGED_SQL = """
SELECT count(*) FROM id_labels_next x JOIN id_labels l USING (nid) WHERE x.label <> l.label
"""

SWAP_SQL = "CREATE OR REPLACE TEMP TABLE id_labels AS SELECT * FROM id_labels_next"
