"""Every customer assigned to a persona: the saved model loaded, or a new one fitted.

The model is refitted only when asked (`refit`), when none can be used, or when the settings
that define it changed (`refit_reason`); otherwise customers, new ones included, are put in
the saved personas with the saved standardisation. The same run gives the customers as they
were at the drift cut-off (the start of the period one period before the end of the data),
from the same scans, with the same model.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from cxloop.analytics.periods import Period, parse_period
from cxloop.analytics.personas import drift, features, labels, model, queries
from cxloop.analytics.personas.settings import PersonasSettings

if TYPE_CHECKING:
    from cxloop.workspace import Workspace

FIT_SAMPLE = 30_000
"""Customers the mixture is fitted on (a seeded sample); every customer is then assigned."""
MIN_PER_PERSONA = 10
"""A persona needs this many customers of the fit on average: k is capped at n / 10."""
NEW_VALUE_NOTE = 0.05
"""A channel or touchpoint outside the saved vocabulary with this share of orders or events is
worth a refit, and the document says so."""


@dataclass
class Snapshot:
    """Customers' features and personas at one point in time."""

    counts: features.Counts
    raw: np.ndarray
    z: np.ndarray
    persona: np.ndarray
    probability: np.ndarray


@dataclass
class Run:
    """One assignment of every customer: what the document and the export are made of."""

    model: model.PersonaModel | None  # None: too few customers to fit one
    status: str  # "fitted", "loaded" or "not fitted"
    reason: str
    now: Snapshot
    before: Snapshot | None  # at the drift cut-off
    cutoff: datetime | None
    notes: list[str]


def refit_reason(
    settings: PersonasSettings, saved: model.PersonaModel | None, why_none: str | None
) -> str | None:
    """Why the saved model cannot be used as it is (None: use it)."""
    if saved is None:
        return why_none or "no saved model"
    if settings.refit:
        return "refit asked for"
    if settings.k is not None and settings.k != saved.k:
        return f"{settings.k} personas asked for, the saved model has {saved.k}"
    if settings.k is None and saved.criterion != "BIC":
        return "the saved model has a fixed number of personas; BIC chooses again"
    if settings.k is None and saved.k_range != (settings.min_personas, settings.max_personas):
        return "the range of personas changed"
    if saved.seed != settings.seed:
        return "the seed changed"
    return None


def drift_cutoff(ws: Workspace, period: Period) -> datetime | None:
    """The drift snapshot's cut-off (naive UTC), when the data reach back before it."""
    end = ws.engine.scalar(queries.DATA_END_SQL)
    start = ws.engine.scalar("SELECT min(ordered_at) FROM orders WHERE status = 'completed'")
    if end is None:
        return None
    cutoff = drift.previous_cutoff(end, period).replace(tzinfo=None)
    return cutoff if start is not None and start < cutoff else None


def snap(m: model.PersonaModel, counts: features.Counts, raw: np.ndarray | None) -> Snapshot:
    raw = m.spec.raw(counts) if raw is None else raw
    z = m.spec.standardise(raw)
    persona, probability = m.assign(z)
    return Snapshot(counts, raw, z, persona, probability)


def prepare(ws: Workspace, settings: PersonasSettings, *, snapshot: bool = True) -> Run | None:
    """Load or fit the model and assign every customer, now and at the drift cut-off (None:
    no customers at all)."""
    settings.validate()
    ws.profiles.ensure_current()
    ws.signals.ensure_current()
    period = parse_period(settings.period)
    saved, why_none = model.load_model(ws.path)
    reason = refit_reason(settings, saved, why_none)
    notes: list[str] = []
    vocab = features.choose_vocabulary(ws) if reason or saved is None else saved.spec.vocab
    cutoff = drift_cutoff(ws, period) if snapshot else None
    counts, counts_before = features.load_snapshots(ws, vocab, period, cutoff=cutoff)
    if counts.n == 0:
        return None
    with threadpool_limits(1):  # small matrices: BLAS threads only add contention
        if reason is None and saved is not None:
            fitted, status, reason = saved, "loaded", "saved model used as is"
            notes += _vocabulary_notes(ws, fitted.spec.vocab)
            now = snap(fitted, counts, None)
        else:
            spec, raw = features.FeatureSpec.fit(vocab, counts)
            z = spec.standardise(raw)
            result = _fit(ws, settings, spec, raw, z, notes)
            if result is None:
                empty = np.zeros(0)
                now = Snapshot(counts, raw, z, empty.astype(np.int64), empty)
                return Run(None, "not fitted", reason or "", now, None, None, notes)
            fitted, persona, probability = result
            model.save_model(fitted, ws.path)
            status = "fitted"
            now = Snapshot(counts, raw, z, persona, probability)
        before = snap(fitted, counts_before, None) if counts_before is not None else None
    return Run(fitted, status, reason or "", now, before, cutoff, notes + fitted.fit_notes)


def _fit(
    ws: Workspace,
    settings: PersonasSettings,
    spec: features.FeatureSpec,
    raw: np.ndarray,
    z: np.ndarray,
    notes: list[str],
) -> tuple[model.PersonaModel, np.ndarray, np.ndarray] | None:
    """Fit the projection and the mixtures on a seeded sample; keep the k with the lowest
    BIC; order personas by size and describe them. Also every customer's persona and its
    probability (None: too few customers)."""
    n = len(z)
    rng = np.random.default_rng(settings.seed)
    sample = np.sort(rng.choice(n, size=min(n, FIT_SAMPLE), replace=False))
    cap = len(sample) // MIN_PER_PERSONA
    if settings.k is not None:
        ks = [settings.k] if settings.k <= cap else []
    else:
        ks = list(range(settings.min_personas, min(settings.max_personas, cap) + 1))
    if not ks:
        notes.append(
            f"only {n:,} customers: too few to fit "
            f"{settings.k or settings.min_personas} personas "
            f"(at least {MIN_PER_PERSONA} customers per persona)"
        )
        return None
    fit_notes: list[str] = []
    if settings.k is None and ks[-1] < settings.max_personas:
        fit_notes.append(
            f"at most {ks[-1]} personas tried: {n:,} customers allow {MIN_PER_PERSONA} per persona"
        )
    projection = model.fit_projection(z[sample], settings.seed)
    x = projection(z[sample])
    bic, fits = model.fit_mixtures(x, ks, settings.seed)
    best = min(ks, key=lambda k: (bic[k], k))
    mixture = fits[best]
    persona, probability = mixture.assign(projection(z))
    # Persona 1 is the largest over all customers (the sample's weights may order them
    # slightly differently).
    sizes = np.bincount(persona, minlength=best)
    order = np.argsort(-sizes, kind="stable")
    mixture = model.Mixture(
        mixture.weights[order], mixture.means[order], mixture.covariances[order]
    )
    persona = np.argsort(order)[persona]
    fitted = model.PersonaModel(
        spec=spec,
        projection=projection,
        mixture=mixture,
        fitted_at=datetime.now(UTC).replace(microsecond=0).isoformat(),
        data_version=ws.data_version,
        customers=n,
        fit_sample=len(sample),
        seed=settings.seed,
        k_range=(settings.min_personas, settings.max_personas),
        bic=bic,
        criterion="BIC" if settings.k is None else "fixed k",
    )
    fitted.centroids_z, fitted.centroids_raw = centroids(z, raw, persona, best)
    fitted.labels, fitted.distinguishing = labels.describe(
        list(spec.names), fitted.centroids_z, fitted.centroids_raw, raw.mean(axis=0)
    )
    if settings.k is None and best == ks[-1] and len(ks) > 1:
        fit_notes.append(
            f"BIC is lowest at the largest number of personas tried ({best}): "
            "the data may hold more; raise [personas] max_personas to look further"
        )
    fitted.fit_notes = fit_notes
    return fitted, persona, probability


def centroids(
    z: np.ndarray, raw: np.ndarray, persona: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    cz = np.zeros((k, z.shape[1]))
    cr = np.zeros((k, raw.shape[1]))
    for j in range(k):
        mask = persona == j
        if mask.any():
            cz[j], cr[j] = z[mask].mean(axis=0), raw[mask].mean(axis=0)
    return cz, cr


def _vocabulary_notes(ws: Workspace, vocab: features.Vocabulary) -> list[str]:
    """Channels or touchpoints that matter now but are not features of the saved model."""
    notes = []
    checks = (
        ("order_channel", vocab.order_channels, "of orders", "order channel"),
        ("event_channel", vocab.event_channels, "of events", "event channel"),
        ("touchpoint", vocab.touchpoints, "of events", "touchpoint"),
    )
    for kind, known, what, noun in checks:
        rows = ws.engine.fetchall(queries.vocabulary_sql(kind))
        total = sum(r[1] for r in rows)
        for value, count in rows:
            if value not in known and total and count / total >= NEW_VALUE_NOTE:
                notes.append(
                    f"{noun} {value!r} ({count / total:.0%} {what}) is not a feature of the "
                    "saved model; refit (--refit) to include it"
                )
    return notes
