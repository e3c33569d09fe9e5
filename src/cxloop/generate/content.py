"""Content assets, content views and the onboarding survey, with one planted content effect.

Everything here draws from its own random stream (`content` in `world.STREAMS`) and is
written to files of its own (`content.csv`, `content_events.csv`, `content_feedback.csv`),
so the contract files and the truths of the rest of the world are exactly what they were.

The planted truth, at the `getting_started` moment (touchpoint `onboarding`):

- after each onboarding, the customer may open two assets: `C001` (the getting-started
  video) and `C002` (the care and repair guide), each with a chance that rises with the
  customer's value quintile, steeply for `C002`: valuable customers open more content;
- some onboarded customers answer a transactional NPS survey about onboarding, a day or more
  after the views. Its latent satisfaction is the world's own model for an answer about an
  order (`feedback.latent`: base + the person's effect, which carries the customer-value
  confounder + that order's late delivery, unresolved contact and onboarding success before
  the answer + noise) plus `CONTENT_EFFECT` when the customer opened `C001`, and nothing for
  `C002`.

So `C001` has a real effect and `C002` only a confounded association (its naive difference is
positive because its viewers are the valuable customers, who answer higher anyway); an
analysis that adjusts for customer value recovers which is which. `truth/content.json` gives
the planted effect on the latent scale and its realised size on the observed 0-10 scale.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from cxloop.generate.arrays import lognormal_seconds
from cxloop.generate.catalogue import TP
from cxloop.generate.feedback import NPS, latent, to_scale
from cxloop.generate.settings import SOURCES
from cxloop.generate.strings import bank, choose, ids, join, timestamps
from cxloop.generate.world import STREAMS, World
from cxloop.generate.writer import CSV_OPTIONS

# (id, title, type, persona, moment, value level, status, owner)
ASSETS: tuple[tuple[str, str, str, str, str, str, str, str], ...] = (
    ("C001", "Getting-started video", "video", "all", "getting_started", "catalytic",
     "published", "product"),
    ("C002", "Care and repair guide", "guide", "premium_loyalist", "getting_started",
     "personal", "published", "product"),
    ("C003", "Savings calculator", "calculator", "deal_seeker", "first_purchase",
     "functional", "published", "ecommerce"),
    ("C004", "Review showcase", "review_showcase", "all", "sharing", "personal", "approved",
     "marketing"),
    ("C005", "Fit finder quiz", "calculator", "all", "first_purchase", "functional", "idea",
     "ecommerce"),
)  # fmt: skip
PLANTED, NULL = "C001", "C002"

CONTENT_EFFECT = 1.5
"""Latent satisfaction points (NPS scale) that opening C001 adds to the onboarding survey."""
VIEW_SHARE = {PLANTED: (0.30, 0.34, 0.38, 0.42, 0.46), NULL: (0.05, 0.10, 0.20, 0.35, 0.55)}
"""Chance of opening the asset after an onboarding, by the customer's value quintile."""
SURVEY_SHARE = 0.5
"""Share of onboardings followed by the onboarding NPS survey."""


@dataclass(frozen=True)
class ContentFiles:
    """The files `write_content` wrote, by name."""

    assets: Path
    events: Path
    feedback: Path


def content_rng(world: World) -> np.random.Generator:
    """The content stream: the `content` child of the seed, like every other stage's."""
    seeds = np.random.SeedSequence(world.settings.seed).spawn(len(STREAMS))
    return np.random.default_rng(seeds[STREAMS.index("content")])


def write_content(out_dir: Path, truth_dir: Path, world: World) -> ContentFiles:
    """Simulate the content views and the onboarding survey; write them and their truth."""
    rng = content_rng(world)
    s = world.settings
    e = world.events
    on = np.flatnonzero((e.touchpoint == TP["onboarding"]) & (e.t < s.window_days))
    person, t, order = e.person[on], e.t[on], e.order[on]
    source, success = e.source[on], e.success[on] == 1
    quintile = np.zeros(world.persons.count, dtype=np.int64)
    quintile[world.value.person] = world.value.quintile
    q = quintile[person]
    viewed = {}
    parts = []
    for asset in (PLANTED, NULL):
        share = np.asarray(VIEW_SHARE[asset])[q]
        hit = rng.random(len(on)) < share
        viewed[asset] = hit
        when = t[hit] + rng.uniform(0.05, 1.0, int(hit.sum()))
        parts.append((asset, np.flatnonzero(hit), when))
    order_ids = _order_ids(world)

    # Events: one view per (onboarding, asset) opened, in time order.
    rows = np.concatenate([p[1] for p in parts])
    when = np.concatenate([p[2] for p in parts])
    asset_code = np.concatenate([np.full(len(p[1]), i) for i, p in enumerate(parts)])
    keep = when < s.window_days
    rows, when, asset_code = rows[keep], when[keep], asset_code[keep]
    by_time = np.argsort(when, kind="stable")
    rows, when, asset_code = rows[by_time], when[by_time], asset_code[by_time]
    n = len(rows)
    app = rng.random(n) < 0.4
    events = pa.table({
        "event_id": ids("EC", 1 + np.arange(n), 9),
        "customer_id": _customer_ids(world, source[rows], person[rows]),
        "source": bank(SOURCES, source[rows]),
        "occurred_at": _stamp(world, when),
        "touchpoint": pa.array(["content_view"] * n, pa.string()),
        "channel": choose(app.astype(np.int64), "email", "app"),
        "duration_s": pa.array(np.round(lognormal_seconds(rng, 90.0, 0.8, n)).astype(np.int64)),
        "properties": join('{"content_id": "', choose(asset_code, PLANTED, NULL),
                           '", "order_id": "', order_ids.take(pa.array(order[rows])), '"}'),
    })  # fmt: skip

    # The onboarding NPS survey, after the views; rows in time order.
    at = t + rng.uniform(1.2, 6.0, len(on))
    asked = (rng.random(len(on)) < SURVEY_SHARE) & (at < s.window_days)
    a = np.flatnonzero(asked)
    lifted = viewed[PLANTED][a]
    late, unresolved = _order_experiences(world, order[a], at[a])
    # The world's own score model for an answer about an order (`feedback.latent`): that
    # order's late delivery, unresolved contact and onboarding success before the answer.
    satisfaction = (
        latent(rng, s, world.persons, person[a], late, unresolved, success[a])
        + CONTENT_EFFECT * lifted
    )
    metric = np.full(len(a), NPS)
    score = to_scale(metric, satisfaction)
    without = to_scale(metric, satisfaction - CONTENT_EFFECT * lifted)
    by_time = np.argsort(at[a], kind="stable")
    a, score, without, lifted = a[by_time], score[by_time], without[by_time], lifted[by_time]
    m = len(a)
    feedback = pa.table({
        "response_id": ids("RC", 1 + np.arange(m), 8),
        "customer_id": _customer_ids(world, source[a], person[a]),
        "source": bank(SOURCES, source[a]),
        "submitted_at": _stamp(world, at[a], "+00:00"),
        "metric": pa.array(["nps"] * m, pa.string()),
        "score": pa.array(score.astype(np.int64)),
        "touchpoint": pa.array(["onboarding"] * m, pa.string()),
        "order_id": order_ids.take(pa.array(order[a])),
        "channel": pa.array(["email"] * m, pa.string()),
    })  # fmt: skip

    out_dir.mkdir(parents=True, exist_ok=True)
    files = ContentFiles(
        out_dir / "content.csv", out_dir / "content_events.csv", out_dir / "content_feedback.csv"
    )
    pacsv.write_csv(_assets_table(world), files.assets, CSV_OPTIONS)
    pacsv.write_csv(events, files.events, CSV_OPTIONS)
    pacsv.write_csv(feedback, files.feedback, CSV_OPTIONS)
    moved = score - without
    truth = {
        "moment": "getting_started",
        "touchpoint": "onboarding",
        "outcome": "nps answers about onboarding (content_feedback.csv), 0-10",
        "planted": {
            "content_id": PLANTED,
            "effect_latent": CONTENT_EFFECT,
            "observed": {"effect": round(float(moved[lifted].mean()), 4) if lifted.any() else 0.0,
                         "n": int(lifted.sum())},
            "view_share_by_value_quintile": list(VIEW_SHARE[PLANTED]),
        },
        "null": {
            "content_id": NULL,
            "effect_latent": 0.0,
            "confounded_by": "customer value (view share rises steeply with value quintile)",
            "view_share_by_value_quintile": list(VIEW_SHARE[NULL]),
            "n": int(viewed[NULL][a].sum()),
        },
        "answers": m,
        "views": n,
        "assets": [a_[0] for a_ in ASSETS],
    }  # fmt: skip
    truth_dir.mkdir(parents=True, exist_ok=True)
    (truth_dir / "content.json").write_text(json.dumps(truth, indent=2) + "\n", encoding="utf-8")
    return files


def _order_experiences(
    world: World, order: np.ndarray, at: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per answer: whether its order had a late delivery, and an unresolved support contact,
    before the answer (from the world's own events, as `Experience.of_order` reads them)."""
    e = world.events
    late_at = np.full(world.orders.count, np.inf)
    unresolved_at = np.full(world.orders.count, np.inf)
    failed = (e.success == 0) & (e.order >= 0)
    d = failed & (e.touchpoint == TP["delivery"])
    np.minimum.at(late_at, e.order[d], e.t[d])
    c = failed & np.isin(e.touchpoint, [TP["support_contact"], TP["chat"]])
    np.minimum.at(unresolved_at, e.order[c], e.t[c])
    return late_at[order] < at, unresolved_at[order] < at


def _assets_table(world: World) -> pa.Table:
    """The asset catalogue: planned a year before the window, published at its start."""
    start = world.settings.window_start
    cols = list(zip(*ASSETS, strict=True))
    status = cols[6]

    def on(reached: tuple[str, ...], day: str) -> list[str | None]:
        return [day if st in reached else None for st in status]

    return pa.table({
        "content_id": pa.array(cols[0]),
        "title": pa.array(cols[1]),
        "type": pa.array(cols[2]),
        "persona": pa.array(cols[3]),
        "moment": pa.array(cols[4]),
        "value_level": pa.array(cols[5]),
        "status": pa.array(status),
        "owner": pa.array(cols[7]),
        "planned_at": pa.array(on(("planned", "approved", "published"),
                                  f"{start.year - 1}-{start.month:02d}-01"), pa.string()),
        "approved_at": pa.array(on(("approved", "published"),
                                   f"{start.year - 1}-{start.month:02d}-15"), pa.string()),
        "published_at": pa.array(on(("published",), start.isoformat()), pa.string()),
    })  # fmt: skip


def _order_ids(world: World) -> pa.Array:
    """Order ids as `tables.export_tables` numbers them (by time)."""
    o = world.orders
    rank = np.empty(o.count, dtype=np.int64)
    rank[np.argsort(o.t, kind="stable")] = np.arange(o.count)
    return ids("O", 100_001 + rank, 9)


def _customer_ids(world: World, source: np.ndarray, person: np.ndarray) -> pa.Array:
    row = world.customers.index_of[source, person]
    if np.any(row < 0):
        raise AssertionError("a content row names a record that does not exist")
    return world.customers.customer_id.take(pa.array(row))


def _stamp(world: World, t: np.ndarray, suffix: str = "Z") -> pa.Array:
    return timestamps(world.settings.epoch_s + np.round(t * 86_400).astype(np.int64), suffix)
