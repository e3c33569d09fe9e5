"""Realistic sample data for cxloop, with the truths planted in it.

    from pathlib import Path
    from cxloop.generate import generate

    result = generate(Path("sample"), people=20_000, seed=42)
    result.files["orders"], result.rows["events"], result.truth_dir

The simulated world (Northwind, a retailer, and its competitors Contoso and Fabrikam), every
parameter and every truth file are described in docs/generator.md.
"""

from __future__ import annotations

from cxloop.generate.pipeline import GeneratedData, generate, generate_with
from cxloop.generate.settings import GeneratorSettings

__all__ = ["GeneratedData", "GeneratorSettings", "generate", "generate_with"]
