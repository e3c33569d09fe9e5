"""Normalised identifiers, as SQL expressions evaluated in the engine (no Python row loop).

- email: trimmed and lower-cased; must look like `local@domain.tld`; placeholder local parts
  (`noreply`, `test`, ...) never identify anyone.
- phone: E.164 digits (country code + national number). Numbers written with `+` or `00`
  carry their country code, less a `(0)` trunk written after it (`+44 (0)7700 900123`);
  local formats take the record's own country, else the workspace default, and drop the
  national trunk prefix (`0` in most of Europe, `1` in North America). Digits that already
  start with that country's code and leave a national number of valid length
  (`4915123456789` in DE) are taken as international, since people often drop the `+`.
  The per-country facts come from libphonenumber's metadata (the `phonenumbers` package).
"""

from __future__ import annotations

from functools import lru_cache

import phonenumbers


@lru_cache(maxsize=1)
def phone_regions() -> list[tuple[str, str, str, int, int, str]]:
    """(region, calling code, national prefix, min and max national length, number pattern).

    The pattern (fixed line or mobile, RE2-compatible) tells whether digits after a country
    code written without `+` form a real national number: `4915123456789` is DE mobile
    15123456789, but the Italian mobile `3921234567` is not `+39 21234567`.
    """
    rows: list[tuple[str, str, str, int, int, str]] = []
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
        patterns = [
            f"(?:{desc.national_number_pattern})"
            for desc in (meta.fixed_line, meta.mobile)
            if desc is not None and desc.national_number_pattern
        ]
        rows.append(
            (
                region,
                str(meta.country_code),
                meta.national_prefix or "",
                min(lengths),
                max(lengths),
                "|".join(patterns) or r"\d+",
            )
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
    # `(0)` is the trunk prefix some write after the country code; it is never dialled.
    raw = f"regexp_replace(trim({column}), '\\(\\s*0\\s*\\)', '', 'g')"
    digits = f"regexp_replace({raw}, '[^0-9]', '', 'g')"
    # Order matters: explicit international forms, then the trunk prefix (`0...`, or `1` +
    # 10 digits in North America), then the country code written without `+` (the rest must
    # be a real national number by libphonenumber's pattern), then a bare national number.
    # A North American area code never starts with 1, so a 10-digit local number there is
    # never mistaken for one carrying the country code.
    e164 = (
        f"CASE "
        f"WHEN {raw} LIKE '+%' THEN {digits} "
        f"WHEN {digits} LIKE '00%' THEN substr({digits}, 3) "
        f"WHEN pr.national_prefix <> '' AND starts_with({digits}, pr.national_prefix) "
        f"AND length({digits}) - length(pr.national_prefix) BETWEEN pr.min_len AND pr.max_len "
        f"THEN pr.cc || substr({digits}, length(pr.national_prefix) + 1) "
        f"WHEN starts_with({digits}, pr.cc) "
        f"AND length({digits}) - length(pr.cc) BETWEEN pr.min_len AND pr.max_len "
        f"AND regexp_full_match(substr({digits}, length(pr.cc) + 1), pr.pattern) THEN {digits} "
        f"WHEN length({digits}) BETWEEN pr.min_len AND pr.max_len THEN pr.cc || {digits} "
        f"END"
    )
    # Plausible E.164 length, and not a placeholder such as 000-000-0000 or 1111111.
    return (
        f"CASE WHEN length({e164}) BETWEEN 8 AND 15 "
        f"AND replace(substr({e164}, 2), substr({e164}, 2, 1), '') <> '' "
        f"THEN {e164} END"
    )
