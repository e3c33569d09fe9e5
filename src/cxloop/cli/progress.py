"""Progress displays on stderr (stdout stays clean for --json)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from cxloop.cli.render import err


def _bar() -> Progress:
    """A transient bar on stderr: spinner, description, bar, percentage, elapsed time."""
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    )


@contextmanager
def ingest_progress(
    files: list[Path], min_bytes: int, *, quiet: bool
) -> Iterator[Callable[..., None] | None]:
    """A bar over the files' bytes when there is enough to load that it takes a while."""
    sizes = {str(f): (f.stat().st_size if f.is_file() else 0) for f in files}
    total = sum(sizes.values())
    if quiet or total < min_bytes:
        yield None
        return
    with _bar() as bar:
        task = bar.add_task("loading", total=total)

        def update(path: str, index: int, count: int, report: object) -> None:
            if report is None:
                bar.update(task, description=f"loading {Path(path).name} ({index + 1}/{count})")
            else:
                bar.advance(task, sizes.get(path, 0))

        yield update


@contextmanager
def step_progress(title: str, *, quiet: bool) -> Iterator[Callable[[str, float], None] | None]:
    """A bar for multi-step work that reports (step name, fraction done)."""
    if quiet:
        yield None
        return
    with _bar() as bar:
        task = bar.add_task(title, total=1.0)

        def update(step: str, fraction: float) -> None:
            bar.update(task, description=f"{title}: {step}", completed=max(0.0, min(fraction, 1)))

        yield update
