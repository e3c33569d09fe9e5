"""The planted truths, computed from the construction (never by running cxloop's own code).

Identity: under the deterministic rules (same normalised e-mail, same normalised phone, an
anonymous id seen with a customer reference; merges transitive; placeholders ignored), the
records of one person form connected components that can be counted per person, because no
real identifier is shared across persons. With at most three records per person, a person with
`k` records and `m` linking pairs has `k - min(m, k - 1)` components.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from cxloop.generate.dirty import Reject
from cxloop.generate.feedback import METRICS, Answers
from cxloop.generate.persona_truth import person_signals, persona_rows, persona_summary
from cxloop.generate.strings import ids, timestamps
from cxloop.generate.tables import Export
from cxloop.generate.text import THEMES
from cxloop.generate.world import World


def record_components(world: World) -> np.ndarray:
    """Per person, the number of profiles their customer records form under the rules."""
    p, plan = world.persons, world.plan
    has = np.stack([p.has_crm, p.has_shop, p.has_store])
    email = np.where(has, plan.email, 0)
    phone = has & plan.phone
    links = np.zeros(p.count, dtype=np.int64)
    for a, b in ((0, 1), (0, 2), (1, 2)):
        same_email = (email[a] > 0) & (email[a] == email[b])
        links += has[a] & has[b] & (same_email | (phone[a] & phone[b]))
    nodes = has.sum(axis=0)
    return nodes - np.minimum(links, nodes - 1)


def identity_truth(world: World, export: Export, rejected_persons: np.ndarray) -> dict[str, Any]:
    """Counts of `truth/identity.json` (see docs/generator.md for every key)."""
    p = world.persons
    components = record_components(world)
    components[rejected_persons] = 0
    cookie = export.event_cookie
    used = np.unique(cookie[cookie >= 0])
    stitched = np.unique(cookie[(cookie >= 0) & (export.event_source >= 0)])
    lone = used[~np.isin(used, stitched)]
    has = np.stack([p.has_crm, p.has_shop, p.has_store])
    placeholders = p.has_store & (world.plan.placeholder_phone | world.plan.placeholder_email)
    known = int(components.sum())
    anonymous_only = len(lone)
    email_refs = int(np.sum(world.answers.source == 3))
    return {
        "persons": int(p.count),
        "source_records": int(has.sum()),
        "records_per_source": {
            "crm": int(p.has_crm.sum()),
            "shop": int(p.has_shop.sum()),
            "store": int(p.has_store.sum()),
        },
        "rejected_records": len(rejected_persons),
        "expected_profiles": known + anonymous_only,
        "expected_known_profiles": known,
        "anonymous_only_profiles": anonymous_only,
        "anonymous_ids": len(used),
        "stitched_anonymous_ids": len(stitched),
        "anonymous_visitors": int(np.sum(used >= export.cookies_of_persons)),
        "placeholder_records": int(placeholders.sum()),
        "unlinkable_persons": int(np.sum(components > 1)),
        "planted_unlinkable_persons": int(np.sum(p.unlinkable & (components > 1))),
        "multi_record_persons": int(np.sum(has.sum(axis=0) > 1)),
        "email_only_references": email_refs,
        "rules": [
            "same normalised email: lower(trim(email)), placeholders ignored",
            "same normalised phone: E.164 digits, the record's country decides local formats "
            "(default US), placeholders such as 000-000-0000 ignored",
            "an event carrying both anonymous_id and a customer reference stitches them",
            "references by (source, customer_id), by customer_id alone in mentions, or by "
            "email alone in feedback; referee_email in referrals is not a reference",
            "merges are transitive",
        ],
    }


def person_ids(person: np.ndarray) -> pa.Array:
    """`P0000001`-style ids of persons (1-based)."""
    return ids("P", np.asarray(person) + 1, 7)


def write_truth(
    out: Path,
    world: World,
    export: Export,
    originals: dict[str, pa.Array],
    rejects: list[Reject],
    duplicates: int,
    rows: dict[str, int],
) -> None:
    """Write every file of `truth/` (their meaning is in docs/generator.md)."""
    out.mkdir(parents=True, exist_ok=True)
    s = world.settings
    customers = world.customers
    rejected = np.array(sorted(r.row for r in rejects if r.kind == "customers"), dtype=np.int64)
    rejected_mask = np.zeros(len(customers.person), dtype=bool)
    rejected_mask[rejected] = True
    _csv(out / "record_person.csv", {
        "source": customers.table.column("source").combine_chunks(),
        "customer_id": originals["customers"],
        "person_id": person_ids(customers.person),
        "rejected": pa.array(rejected_mask),
    })  # fmt: skip
    owner = np.repeat(np.arange(world.persons.count), world.persons.devices)
    used = np.unique(export.event_cookie[export.event_cookie >= 0])
    stitched = np.isin(used, export.event_cookie[export.event_source >= 0])
    is_person = used < export.cookies_of_persons
    _csv(out / "anonymous_person.csv", {
        "anonymous_id": export.anonymous_ids.take(pa.array(used)),
        "person_id": person_ids(owner[np.where(is_person, used, 0)]).take(
            pa.array(np.arange(len(used)), mask=~is_person)),
        "stitched": pa.array(stitched),
    })  # fmt: skip
    identity = identity_truth(world, export, customers.person[rejected])
    _json(out / "identity.json", identity)

    b = world.buyers
    seconds = s.epoch_s + np.round(np.nan_to_num(b.churned) * 86_400).astype(np.int64)
    _csv(out / "purchases.csv", {
        "person_id": person_ids(b.person),
        "lambda": pa.array(np.round(b.lam, 6)),
        "p": pa.array(np.round(b.p, 6)),
        "nu": pa.array(np.round(b.nu, 6)),
        "acquired_at": timestamps(s.epoch_s + np.round(b.acquired * 86_400).astype(np.int64)),
        "churned_at": timestamps(seconds).take(
            pa.array(np.arange(len(seconds)), mask=np.isnan(b.churned))),
        "first_delivery_late": pa.array(b.first_late),
        "value": pa.array(np.round(_per_buyer(world, world.value.z, 0.0), 6)),
        "value_quintile": pa.array(_per_buyer(world, world.value.quintile + 1, 0)),
        "loyalty_lounge": pa.array(_per_buyer(world, world.value.lounge, False)),
    })  # fmt: skip
    signals = person_signals(world, rejects)
    _csv(out / "personas.csv", {
        "person_id": person_ids(np.arange(world.persons.count)),
        **persona_rows(world, signals),
    })  # fmt: skip
    _json(out / "personas.json", persona_summary(world, signals))
    _json(out / "parameters.json", parameters(world))
    _json(out / "effects.json", effects(world))
    a = world.answers
    by_time = np.argsort(a.t, kind="stable")
    _csv(out / "feedback_truth.csv", {
        "response_id": originals["feedback"],
        "theme": _label(THEMES, a.theme[by_time]),
        "sentiment": pa.array(a.sentiment[by_time].astype(np.int64) - 1,
                              mask=a.sentiment[by_time] < 0),
        "late_delivery": pa.array(a.late[by_time]),
        "unresolved_support": pa.array(a.unresolved[by_time]),
        "onboarding_success": pa.array(a.onboarded[by_time]),
        "moved_by_late_delivery": pa.array(a.moved_late[by_time]),
        "moved_by_unresolved_support": pa.array(a.moved_unresolved[by_time]),
        "moved_by_onboarding_success": pa.array(a.moved_onboarded[by_time]),
    })  # fmt: skip
    m = world.mentions
    by_time = np.argsort(m.t, kind="stable")
    _csv(out / "mentions_truth.csv", {
        "mention_id": originals["mentions"],
        "theme": _label(THEMES, m.theme[by_time]),
        "sentiment": pa.array(m.sentiment[by_time].astype(np.int64) - 1),
    })  # fmt: skip
    counts = {kind: 0 for kind in rows}
    for r in rejects:
        counts[r.kind] += 1
    _json(out / "rejects.json", counts)
    _csv(out / "rejects.csv", {
        "kind": pa.array([r.kind for r in rejects], pa.string()),
        "row": pa.array([r.row + 1 for r in rejects], pa.int64()),
        "line": pa.array([r.row + 2 for r in rejects], pa.int64()),
        "column": pa.array([r.column for r in rejects], pa.string()),
        "value": pa.array([r.value for r in rejects], pa.string()),
        "reason": pa.array([r.reason for r in rejects], pa.string()),
    })  # fmt: skip
    _json(out / "summary.json", {
        "rows": rows,
        "duplicate_event_rows": duplicates,
        "distinct_event_ids": rows["events"] - duplicates,
        "buyers": len(b.person),
        "orders": int(world.orders.count),
        "referrals_converted": int(np.sum(world.referrals.referee >= 0)),
    })  # fmt: skip


def parameters(world: World) -> dict[str, Any]:
    """Every setting, the window, and the BTYD parameters under their model's names."""
    s = world.settings
    values = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(s).items()}
    return {
        "window": {"start": s.window_start.isoformat(), "end": s.window_end.isoformat(),
                   "days": s.window_days},
        "acquisition": {"start": s.window_start.isoformat(), "days": s.acquisition_days},
        "bgnbd": {"r": s.bgnbd_r, "alpha": s.bgnbd_alpha, "a": s.bgnbd_a, "b": s.bgnbd_b,
                  "time_unit": "week",
                  "source": "Fader, Hardie & Lee (2005), Marketing Science 24(2)"},
        "gamma_gamma": {"p": s.spend_p, "q": s.spend_q, "gamma": s.spend_gamma,
                        "currency": "USD", "mean_amount": s.spend_p * s.spend_gamma
                        / (s.spend_q - 1.0),
                        "source": "Fader, Hardie & Lee (2005), JMR 42(4)"},
        "late_first_delivery_dropout_multiplier": s.late_dropout_multiplier,
        "settings": values,
    }  # fmt: skip


def effects(world: World) -> dict[str, Any]:
    """Planted effects of experiences, on the latent NPS scale and on each metric's scale."""
    s = world.settings
    slopes = {"nps": 1.0, "ces": 0.6, "csat": 0.4, "rating": 0.4}

    def on_scales(effect: float) -> dict[str, float]:
        return {metric: round(effect * slope, 4) for metric, slope in slopes.items()}

    return {
        "latent": "s = base + person effect + effects + noise on the 0-10 scale; "
        "nps = round(s), ces = round(1 + 0.6 s), csat = rating = round(1 + 0.4 s), "
        "each clipped to its scale (clipping shrinks observed differences a little)",
        "base": s.satisfaction_base,
        "person_effect_sd": s.person_effect_sd,
        "noise_sd": s.noise_sd,
        "scores": {
            "late_delivery": {"touchpoint": "delivery", "outcome": "success = false",
                              "effect": on_scales(s.effect_late_delivery),
                              "observed": observed(world.answers, "late")},
            "unresolved_support": {"touchpoint": "support_contact, chat",
                                   "outcome": "success = false",
                                   "effect": on_scales(s.effect_unresolved_support),
                                   "observed": observed(world.answers, "unresolved")},
            "onboarding_success": {"touchpoint": "onboarding", "outcome": "success = true",
                                   "effect": on_scales(s.effect_onboarding_success),
                                   "observed": observed(world.answers, "onboarded")},
        },
        "applies_to": "an answer about an order (delivery and support surveys, ratings) "
                      "reflects that order's experiences before it; an answer about the "
                      "relationship (relational nps, comments) the person's experiences within "
                      f"{s.experience_memory_days:g} days before it",
        "observed": "per metric, the mean over the answers that had the experience of their "
                    "score minus the score the same answer would have had without it (the "
                    "effect on the treated on the observed scale, after rounding and clipping), "
                    "and how many answers had it",
        "behaviour": {
            "late_first_delivery_dropout_multiplier": s.late_dropout_multiplier,
            "support_contact_share": {"on_time": s.support_share,
                                      "after_late_delivery": s.support_share_after_late},
            "return_share": {"on_time": s.return_share,
                             "after_late_delivery": s.return_share_after_late},
        },
        "confounded_null": confounded_null(world),
        "sentiment": "text sentiment is +1 when s >= 8.5, -1 when s < 6.5, else 0",
    }  # fmt: skip


def observed(answers: Answers, experience: str) -> dict[str, dict[str, float | int]]:
    """Per metric: the mean observed-scale move of the answers that had `experience`."""
    hit = getattr(answers, experience)
    move = getattr(answers, f"moved_{experience}")
    out: dict[str, dict[str, float | int]] = {}
    for code, metric in enumerate(METRICS):
        m = hit & (answers.metric == code) & ~np.isnan(answers.score)
        if m.any():
            out[metric] = {"effect": round(float(move[m].mean()), 4), "n": int(m.sum())}
    return out


def _per_buyer(world: World, values: np.ndarray, missing: object) -> np.ndarray:
    """`values` (given per buyer of `world.value`) in the order of `world.buyers`."""
    out = np.full(world.persons.count, missing, dtype=np.asarray(values).dtype)
    out[world.value.person] = values
    return out[world.buyers.person]


def confounded_null(world: World) -> dict[str, Any]:
    """The touchpoint with no effect on scores whose members are the high-value customers."""
    s, v = world.settings, world.value
    effect = world.persons.person_effect[v.person]
    corr = float(np.corrcoef(effect, v.z)[0, 1]) if len(v.z) > 2 else 0.0
    rates = [
        float(v.lounge[v.quintile == q].mean()) if np.any(v.quintile == q) else 0.0
        for q in range(5)
    ]
    return {
        "touchpoint": "loyalty_lounge", "stage": "own", "outcome": "any visit",
        "effect": {metric: 0.0 for metric in ("nps", "ces", "csat", "rating")},
        "confounded_by": "customer value",
        "value": "z = (log(1 + amount of the person's completed orders in the window) "
                 "- mean) / sd, mean and sd over the organic buyers",
        "value_scale": {"mean": round(v.scale.mean, 6), "sd": round(v.scale.sd, 6),
                        "quintile_cuts": [round(float(c), 6) for c in v.scale.cuts]},
        "value_effect": s.value_effect,
        "person_effect": "value_effect * z + sqrt(person_effect_sd^2 - value_effect^2) * e",
        "person_effect_value_correlation": round(corr, 4),
        "exposure_rate_by_value_quintile": list(s.lounge_share_by_value_quintile),
        "observed_exposure_rate_by_value_quintile": [round(r, 4) for r in rates],
        "members": int(v.lounge.sum()),
        "buyers": len(v.person),
        "visit_gap_days": s.lounge_visit_days,
    }  # fmt: skip


def _label(names: tuple[str, ...], codes: np.ndarray) -> pa.Array:
    valid = codes >= 0
    return pa.array(np.array(names, dtype=object)[np.where(valid, codes, 0)], pa.string(),
                    mask=~valid)  # fmt: skip


def _csv(path: Path, columns: dict[str, pa.Array]) -> None:
    pacsv.write_csv(pa.table(columns), path, pacsv.WriteOptions(eol="\r\n"))


def _json(path: Path, value: dict[str, Any]) -> None:
    path.write_text(json.dumps(value, indent=2, sort_keys=False) + "\n", encoding="utf-8")
