"""Referrals: codes, attribution of a new customer's first order, and the fraud checks.

**Codes.** Each advocate gets one code from `secrets` (12 characters of Crockford's base 32,
60 random bits: guessing one valid code among a million issued takes about 10^12 tries), kept
unique by the store's primary key; a collision draws again.

**Attribution.** A conversion is one order: the first order of the referred customer's unified
profile (no earlier order of theirs, whatever its status; a code used on the referrer's own
later order is kept, to be flagged). It is found either from the order's
`referral_code` (a code of the store, or one the data's referral rows give to a referrer),
compared as Crockford's base 32 is read (case, spaces and hyphens ignored, I and L as 1, O as
0: `abcd efgh` is `ABCD-EFGH`), or
from a referral row whose `converted_order_id` names it. Its id is ``{source}:{order_id}``, so
an order named both ways is one conversion, paid once.

**Fraud checks**, computed in the warehouse over every conversion (a ring only shows when its
third member arrives, so conversions still held are checked again before they are paid):

- `same_profile`: referrer and referee resolve to the same unified profile;
- `shared_email`, `shared_phone`, `shared_address`, `shared_payment`: a record of the referee
  (or the referral row's `referee_email`) shares that identifier with a record of the
  referrer. E-mails compare without `+tags` and dots in the local part
  (jane.doe+2@x.org is janedoe@x.org; googlemail.com is gmail.com); addresses by house
  number with its letter, first word of the street, postcode and unit (so "12A Oak Street",
  "12a, OAK ST" agree, as do "Flat 2, 12 Oak St" and "12 Oak St Apt 2"; an address without a
  unit matches every unit of its building); an address not read this way compares as written;
  payment fingerprints come from the customers' `attributes.payment_fingerprint`;
- `ring_<identifier>`: `ring_min_size` or more referees share one identifier value (for an
  address, the unit too: neighbours in other flats of one building are not a ring);
- an e-mail or phone that identity resolution set aside as a placeholder (shared by more
  records than `[identity] max_records_per_identifier`, a shop's own number) is evidence of
  nothing here either;
- `velocity`: the referrer converted more than `velocity_max` referrals within
  `velocity_days` up to this one.

A flagged conversion is held for review (`flagged`): never paid silently, never dropped.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from cxloop.config import AdvocacySettings
from cxloop.identity.graph import SEP
from cxloop.programs.advocacy.tables import referral_codes
from cxloop.programs.errors import ProgramError
from cxloop.programs.store import ProgramStore, RetryTransaction, retrying

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

#: Crockford's base 32: no I, L, O or U, so a code read aloud or typed is not mistaken.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 12


def new_code() -> str:
    """A fresh random code, `XXXX-XXXX-XXXX` (60 bits from `secrets`)."""
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return f"{raw[:4]}-{raw[4:8]}-{raw[8:]}"


def referral_code(store: ProgramStore, profile_id: str, *, now: datetime | None = None) -> str:
    """The profile's referral code, created on first use (one per profile, idempotent)."""
    if not isinstance(profile_id, str) or not profile_id.strip():
        raise ProgramError("a referral code belongs to a profile id")
    moment = (now or datetime.now(UTC)).astimezone(UTC)

    def transaction() -> str:
        with store.write() as conn:
            code = conn.execute(
                sa.select(referral_codes.c.code).where(referral_codes.c.profile_id == profile_id)
            ).scalar()
            if code is not None:
                return str(code)
            code = new_code()
            try:
                conn.execute(
                    sa.insert(referral_codes).values(
                        code=code, profile_id=profile_id, created_at=moment
                    )
                )
            except sa.exc.IntegrityError as exc:  # the profile's code made concurrently, or a
                raise RetryTransaction("referral code taken") from exc  # (rare) collision
            return code

    return retrying(transaction)


def store_codes(store: ProgramStore) -> tuple[list[str], list[str]]:
    """Every code the store issued, and its profile: two lists for the warehouse query."""
    with store.read() as conn:
        rows = conn.execute(sa.select(referral_codes.c.code, referral_codes.c.profile_id)).all()
    return [r.code for r in rows], [r.profile_id for r in rows]


@dataclass(frozen=True)
class Candidate:
    """A conversion as the warehouse sees it now, with the fraud checks' flags."""

    conversion_id: str
    referrer_profile: str
    referee_profile: str
    code: str | None
    referral_ref: str | None
    amount: Decimal
    converted_at: datetime
    status: str  # the order's status
    flags: tuple[str, ...]


def code_key(expr: str) -> str:
    """SQL: a code as compared, read the way Crockford's base 32 is: case, spaces and
    hyphens ignored, I and L read as 1, O as 0 (NULL when nothing is left)."""
    return (
        f"nullif(translate(regexp_replace(upper(coalesce({expr}, '')), '[^0-9A-Z]', '', 'g'), "
        f"'ILO', '110'), '')"
    )


def email_key(expr: str) -> str:
    """SQL: an e-mail as compared: lower case, without a `+tag` or dots in the local part;
    googlemail.com is gmail.com (Google delivers both to one mailbox)."""
    address = f"lower(trim({expr}))"
    domain = f"split_part({address}, '@', 2)"
    return (
        f"replace(regexp_replace(split_part({address}, '@', 1), '\\+.*$', ''), '.', '') || '@' "
        f"|| CASE WHEN {domain} = 'googlemail.com' THEN 'gmail.com' ELSE {domain} END"
    )


#: A unit named before or after the street ("Flat 2, 12 Oak St", "12 Oak St Apt 2", "#2").
_UNIT_WORDS = "(?:flat|apt|apartment|unit|suite|ste|room)"

# An address as compared: `house|street|place#unit` where house is the number with its letter
# (12a), street the first word after it and place the postcode (or city); the unit is empty
# when none is written. An address not taken apart this way compares as written
# (`raw|words|place#unit`): never dropped from the checks.
_ADDRESSES = r"""
SELECT profile_id, 'address' AS kind,
       CASE WHEN house <> '' THEN house || '|' || street ELSE 'raw|' || t END
       || '|' || place || '#' || unit AS value
FROM (
    SELECT profile_id, t, place,
           coalesce(nullif(regexp_extract(t, '^UNIT ([0-9]+[a-z]?) ([0-9]+[a-z]?) (\pL+)', 2), ''),
                    regexp_extract(t, '^([0-9]+[a-z]?) (\pL+)', 1)) AS house,
           coalesce(nullif(regexp_extract(t, '^UNIT ([0-9]+[a-z]?) ([0-9]+[a-z]?) (\pL+)', 3), ''),
                    regexp_extract(t, '^([0-9]+[a-z]?) (\pL+)', 2)) AS street,
           coalesce(nullif(regexp_extract(t, '^UNIT ([0-9]+[a-z]?) ', 1), ''),
                    regexp_extract(t, ' UNIT ([0-9]+[a-z]?)( |$)', 1)) AS unit
    FROM (
        SELECT pr.profile_id,
               trim(regexp_replace(regexp_replace(regexp_replace(lower(c.address),
                    '^\s*([0-9]+[a-z]?)\s*/\s*([0-9]+[a-z]?)', 'apt \1 \2'), '#', ' apt ', 'g'),
                    '[^\pL\pN]+', ' ', 'g')) AS t,
               regexp_replace(lower(coalesce(c.postcode, c.city, '')), '[^\pL\pN]', '', 'g')
                   AS place
        FROM profile_records pr JOIN customers c USING (source, customer_id)
        WHERE nullif(trim(c.address), '') IS NOT NULL
    )
)
""".replace("UNIT", _UNIT_WORDS)

_IDENTIFIERS = f"""
SELECT DISTINCT profile_id, kind, value FROM (
    SELECT pr.profile_id, 'email' AS kind, {email_key("pr.email")} AS value
    FROM profile_records pr WHERE pr.email IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM identity_skipped s
                      WHERE s.identifier = 'e' || {SEP} || pr.email)
    UNION ALL
    SELECT pr.profile_id, 'phone', pr.phone FROM profile_records pr WHERE pr.phone IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM identity_skipped s
                      WHERE s.identifier = 'p' || {SEP} || pr.phone)
    UNION ALL
    {_ADDRESSES}
    UNION ALL
    SELECT pr.profile_id, 'payment', json_extract_string(c.attributes, '$.payment_fingerprint')
    FROM profile_records pr JOIN customers c USING (source, customer_id)
    WHERE json_extract_string(c.attributes, '$.payment_fingerprint') IS NOT NULL
) WHERE profile_id IN (SELECT referrer_profile FROM adv_conv UNION SELECT referee_profile
                       FROM adv_conv)
"""

# Conversions: orders with a code and referral rows naming an order; an order is one
# conversion (its id), the referral row winning when both name it.
_CONVERSIONS = f"""
CREATE OR REPLACE TEMP TABLE adv_conv AS
WITH store_codes AS (
    SELECT code, {code_key("code")} AS code_key, profile_id
    FROM (SELECT unnest($codes) AS code, unnest($owners) AS profile_id)
), rows AS (
    SELECT r.source, r.referral_id, nullif(trim(r.code), '') AS code,
           {code_key("r.code")} AS code_key, r.converted_order_id,
           r.referee_email, lr.profile_id AS referrer_profile, le.profile_id AS referee_row
    FROM referrals r
    LEFT JOIN profile_links lr ON lr.kind = 'referrer' AND lr.source = r.source
         AND lr.id = r.referral_id
    LEFT JOIN profile_links le ON le.kind = 'referee' AND le.source = r.source
         AND le.id = r.referral_id
), owners AS (
    SELECT code_key, code, profile_id FROM store_codes
    UNION ALL
    SELECT code_key, min(code), min(referrer_profile) FROM rows
    WHERE code_key IS NOT NULL AND referrer_profile IS NOT NULL
      AND code_key NOT IN (SELECT code_key FROM store_codes WHERE code_key IS NOT NULL)
    GROUP BY code_key
), by_row AS (
    SELECT o.source AS order_source, o.order_id, r.code, r.referrer_profile,
           r.source || ':' || r.referral_id AS referral_ref, r.referee_row, r.referee_email,
           0 AS preference
    FROM rows r JOIN orders o ON o.order_id = r.converted_order_id
    WHERE r.referrer_profile IS NOT NULL
    QUALIFY row_number() OVER (PARTITION BY r.source, r.referral_id
                               ORDER BY (o.source = r.source) DESC, o.source) = 1
), by_code AS (
    SELECT o.source, o.order_id, w.code, w.profile_id, NULL, NULL, NULL, 1
    FROM orders o JOIN owners w ON w.code_key = {code_key("o.referral_code")}
), named AS (
    SELECT * FROM (SELECT * FROM by_row UNION ALL SELECT * FROM by_code)
    QUALIFY row_number() OVER (PARTITION BY order_source, order_id ORDER BY preference) = 1
)
SELECT n.order_source || ':' || n.order_id AS conversion_id, n.referrer_profile,
       coalesce(lo.profile_id, n.referee_row) AS referee_profile, n.code, n.referral_ref,
       lower(trim(n.referee_email)) AS referee_email, o.amount, o.ordered_at, o.status
FROM named n
JOIN orders o ON o.source = n.order_source AND o.order_id = n.order_id
LEFT JOIN profile_links lo ON lo.kind = 'orders' AND lo.source = o.source AND lo.id = o.order_id
WHERE coalesce(lo.profile_id, n.referee_row) IS NOT NULL
  AND (coalesce(lo.profile_id, n.referee_row) = n.referrer_profile  -- kept to be flagged
       OR NOT EXISTS (  -- the referee's first order: none of theirs before it
           SELECT 1 FROM profile_links l2
           JOIN orders o2 ON l2.kind = 'orders' AND o2.source = l2.source
                AND o2.order_id = l2.id
           WHERE l2.profile_id = lo.profile_id AND o2.ordered_at < o.ordered_at))
"""

_UNKNOWN_CODES = f"""
SELECT count(*) FROM orders o
WHERE {code_key("o.referral_code")} IS NOT NULL
  AND {code_key("o.referral_code")} NOT IN (
      SELECT {code_key("c")} FROM (SELECT unnest($codes) AS c) WHERE {code_key("c")} IS NOT NULL)
  AND {code_key("o.referral_code")} NOT IN (
      SELECT {code_key("code")} FROM referrals WHERE {code_key("code")} IS NOT NULL)
"""

_FLAGS = f"""
WITH ids AS ({_IDENTIFIERS}),
referee_ids AS (
    SELECT c.conversion_id, c.referee_profile, i.kind, i.value
    FROM adv_conv c JOIN ids i ON i.profile_id = c.referee_profile
    UNION
    SELECT conversion_id, referee_profile, 'email', {email_key("referee_email")}
    FROM adv_conv WHERE referee_email LIKE '%@%'
), shared AS (  -- an address with a unit is the one without (the same building, unit unsaid)
    SELECT DISTINCT e.conversion_id, 'shared_' || e.kind AS flag
    FROM referee_ids e JOIN adv_conv c USING (conversion_id)
    JOIN ids r ON r.profile_id = c.referrer_profile AND r.kind = e.kind
         AND (r.value = e.value
              OR (e.kind = 'address'
                  AND split_part(r.value, '#', 1) = split_part(e.value, '#', 1)
                  AND (split_part(r.value, '#', 2) = '' OR split_part(e.value, '#', 2) = '')))
    WHERE c.referrer_profile <> c.referee_profile
), rings AS (
    SELECT DISTINCT e.conversion_id, 'ring_' || e.kind AS flag
    FROM referee_ids e JOIN (
        SELECT kind, value FROM referee_ids GROUP BY kind, value
        HAVING count(DISTINCT referee_profile) >= $ring
    ) g USING (kind, value)
), velocity AS (
    SELECT conversion_id, 'velocity' AS flag FROM (
        SELECT conversion_id, count(*) OVER (
            PARTITION BY referrer_profile ORDER BY ordered_at
            RANGE BETWEEN to_days(CAST($vdays AS INTEGER)) PRECEDING AND CURRENT ROW) AS n
        FROM adv_conv) WHERE n > $vmax
), flags AS (
    SELECT conversion_id, 'same_profile' AS flag FROM adv_conv
    WHERE referrer_profile = referee_profile
    UNION ALL SELECT * FROM shared UNION ALL SELECT * FROM rings
    UNION ALL SELECT * FROM velocity
)
SELECT c.conversion_id, c.referrer_profile, c.referee_profile, c.code, c.referral_ref,
       CAST(c.amount AS VARCHAR), c.ordered_at, c.status,
       list(DISTINCT f.flag ORDER BY f.flag) FILTER (WHERE f.flag IS NOT NULL)
FROM adv_conv c LEFT JOIN flags f USING (conversion_id)
GROUP BY ALL ORDER BY c.ordered_at, c.conversion_id
"""


def find_conversions(
    ws: Workspace, store: ProgramStore, settings: AdvocacySettings
) -> tuple[list[Candidate], int]:
    """Every conversion in the warehouse with its flags, and the number of orders whose code
    nobody owns (reported, never silently dropped)."""
    ws.profiles.ensure_current()
    codes, owners = store_codes(store)
    engine = ws.engine
    params: dict[str, Any] = {"codes": codes, "owners": owners}
    try:
        engine.execute(_CONVERSIONS, params)
        rows = engine.fetchall(
            _FLAGS,
            {
                "ring": settings.ring_min_size,
                "vdays": settings.velocity_days,
                "vmax": settings.velocity_max,
            },
        )
        unknown = int(engine.scalar(_UNKNOWN_CODES, {"codes": codes}) or 0)
    finally:
        engine.execute("DROP TABLE IF EXISTS adv_conv")
    candidates = [
        Candidate(
            conversion_id=row[0],
            referrer_profile=row[1],
            referee_profile=row[2],
            code=row[3],
            referral_ref=row[4],
            amount=Decimal(row[5]),
            converted_at=_utc(row[6]),
            status=row[7] or "completed",
            flags=tuple(row[8] or ()),
        )
        for row in rows
    ]
    return candidates, unknown


def _utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
