"""Normalised identifiers, as SQL expressions evaluated in the engine (no Python row loop).

- email: trimmed and lower-cased; must look like `local@domain.tld`; placeholder local parts
  (`noreply`, `test`, ...) never identify anyone.
- phone: E.164 digits (country code + national number). Numbers written with `+` or `00`
  carry their country code; local formats take the record's own country, else the workspace
  default, and drop the national trunk prefix (`0` in most of Europe, `1` in North America).
  The per-country facts come from libphonenumber's metadata (the `phonenumbers` package).
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


@lru_cache(maxsize=1)
def phone_regions() -> list[tuple[str, str, str, int, int]]:
    """(region, calling code, national prefix, min national length, max national length)."""
    rows: list[tuple[str, str, str, int, int]] = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        meta = phonenumbers.PhoneMetadata.metadata_for_region(region)
        if meta is None or meta.general_desc is None:
            continue
        # Lengths of numbers people own (fixed line, mobile), not short or special numbers,
        # so that a bare local number never passes for a full one.
        lengths = [
            n
            for desc in (meta.fixed_line, meta.mobile)
            if desc is not None
            for n in (desc.possible_length or ())
            if n > 0
        ] or [n for n in (meta.general_desc.possible_length or ()) if n > 0]
        if not lengths:
            continue
        rows.append(
            (region, str(meta.country_code), meta.national_prefix or "", min(lengths), max(lengths))
        )
    return rows


def email_sql(column: str) -> str:
    """SQL: the normalised email of `column`, or NULL when it is not a usable email.

    Expects a bound list parameter `$placeholder_emails` of placeholder local parts.
    """
    e = f"lower(trim({column}))"
    return (
        f"CASE WHEN regexp_full_match({e}, '[^@\\s]+@[^@\\s]+\\.[^@\\s]+') "
        f"AND NOT list_contains($placeholder_emails, split_part({e}, '@', 1)) "
        f"THEN {e} END"
    )


def phone_sql(column: str, country_sql: str) -> str:
    """SQL: the E.164 digits of `column`, or NULL when it cannot be read as a phone number.

    Needs the table `id_phone_regions` joined as `pr` on the record's country (or the
    default). `country_sql` is unused in the expression itself; the join carries it.
    """
    del country_sql
    raw = f"trim({column})"
    digits = f"regexp_replace({raw}, '[^0-9]', '', 'g')"
    e164 = (
        f"CASE "
        f"WHEN {raw} LIKE '+%' THEN {digits} "
        f"WHEN {digits} LIKE '00%' THEN substr({digits}, 3) "
        f"WHEN pr.national_prefix <> '' AND starts_with({digits}, pr.national_prefix) "
        f"AND length({digits}) - length(pr.national_prefix) BETWEEN pr.min_len AND pr.max_len "
        f"THEN pr.cc || substr({digits}, length(pr.national_prefix) + 1) "
        f"WHEN length({digits}) BETWEEN pr.min_len AND pr.max_len THEN pr.cc || {digits} "
        f"WHEN starts_with({digits}, pr.cc) "
        f"AND length({digits}) - length(pr.cc) BETWEEN pr.min_len AND pr.max_len THEN {digits} "
        f"END"
    )
    # Plausible E.164 length, and not a placeholder such as 000-000-0000 or 1111111.
    return (
        f"CASE WHEN length({e164}) BETWEEN 8 AND 15 "
        f"AND replace(substr({e164}, 2), substr({e164}, 2, 1), '') <> '' "
        f"THEN {e164} END"
    )
