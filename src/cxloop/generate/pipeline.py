"""`generate`: simulate the world, export it, add the export artefacts, write files and truth."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cxloop.generate.content import write_content
from cxloop.generate.dirty import Reject, make_dirty
from cxloop.generate.fraud import add_planted, plant_referral_fraud, write_fraud_truth
from cxloop.generate.settings import FileFormat, GeneratorSettings
from cxloop.generate.tables import Export, export_tables
from cxloop.generate.truth import write_truth
from cxloop.generate.world import Progress, World, simulate_world
from cxloop.generate.writer import write_table

KINDS: tuple[str, ...] = (
    "customers", "events", "orders", "feedback", "mentions", "referrals", "touchpoints",
)  # fmt: skip


@dataclass(frozen=True)
class GeneratedData:
    """What `generate` wrote: the data file of every kind, its row count, and the truth."""

    out_dir: Path
    files: dict[str, Path]
    rows: dict[str, int]
    truth_dir: Path
    content: dict[str, Path] = field(default_factory=dict)
    """Content assets (`assets`), content views (`events`) and the onboarding survey
    (`feedback`): extra files, kept apart so the contract files stay as they were
    (`content.py`)."""


def generate(
    out_dir: Path,
    *,
    people: int = 20_000,
    seed: int = 42,
    file_format: FileFormat = "csv",
    dirty_rate: float = 0.002,
    progress: Progress | None = None,
) -> GeneratedData:
    """Write a realistic sample data set for Northwind, and the truths planted in it.

    One file per kind of the data contract goes to `out_dir` (`customers.csv`, ...), the truth
    to `out_dir/truth/`. The same arguments give byte-identical files. `progress(step, done)`
    is called a handful of times with the fraction of the work done.
    """
    settings = GeneratorSettings(
        people=people, seed=seed, file_format=file_format, dirty_rate=dirty_rate
    )
    return generate_with(Path(out_dir), settings, progress=progress)


def generate_with(
    out_dir: Path, settings: GeneratorSettings, *, progress: Progress | None = None
) -> GeneratedData:
    """`generate` with every parameter of the world given in `settings`."""

    def report(step: str, done: float) -> None:
        if progress is not None:
            progress(step, done)

    world = simulate_world(settings, report)
    export = export_tables(world)
    report("tables", 0.75)
    tables = dict(export.tables)
    originals = {kind: tables[kind].column(0).combine_chunks() for kind in tables}
    eligible = _dirt_eligible(world, export)
    rejects: list[Reject] = []
    for kind in KINDS:
        tables[kind], planted = make_dirty(
            world.export_rng, kind, tables[kind], eligible.get(kind, np.ones(0, bool)),
            settings.dirty_rate,
        )  # fmt: skip
        rejects += planted

    fraud = plant_referral_fraud(world, tables)  # none unless asked for: no row moves
    if fraud is not None:
        add_planted(tables, fraud)
    out_dir.mkdir(parents=True, exist_ok=True)
    files = {kind: write_table(tables[kind], out_dir, kind, settings.file_format) for kind in KINDS}
    rows = {kind: tables[kind].num_rows for kind in KINDS}
    report("files", 0.95)
    truth_dir = out_dir / "truth"
    write_truth(truth_dir, world, export, originals, rejects, export.duplicate_events, rows)
    if fraud is not None:
        write_fraud_truth(truth_dir, fraud)
    content = write_content(out_dir, truth_dir, world)
    report("done", 1.0)
    return GeneratedData(
        out_dir=out_dir,
        files=files,
        rows=rows,
        truth_dir=truth_dir,
        content={"assets": content.assets, "events": content.events, "feedback": content.feedback},
    )


def _dirt_eligible(world: World, export: Export) -> dict[str, np.ndarray]:
    """Rows whose rejection leaves every planted truth as it is (see `dirty.py`)."""
    persons = world.persons
    active = np.zeros(persons.count, dtype=bool)
    for person in (
        export.event_person,
        world.orders.person,
        world.answers.person,
        world.mentions.person,
        world.referrals.referrer,
        world.referrals.referee,
    ):
        active[person[person >= 0]] = True
    records = persons.has_crm.astype(int) + persons.has_shop + persons.has_store
    quiet = ~active & (records == 1) & (persons.devices == 0)
    orders = np.ones(export.tables["orders"].num_rows, dtype=bool)
    orders[export.referral_orders] = False
    return {
        "customers": quiet[world.customers.person],
        "events": (export.event_cookie < 0) & (export.event_source >= 0) & ~export.event_twin,
        "orders": orders,
        "feedback": np.ones(export.tables["feedback"].num_rows, dtype=bool),
        "mentions": np.ones(export.tables["mentions"].num_rows, dtype=bool),
        "referrals": np.ones(export.tables["referrals"].num_rows, dtype=bool),
    }
