"""The advocacy tables the code queries are the tables migration 0101 creates."""

from __future__ import annotations

import cxloop.programs.advocacy.tables  # noqa: F401  (registers the tables in the metadata)
from tests.programs_db import program_store  # noqa: F401
from tests.test_loyalty_ledger import (  # noqa: F401
    test_the_migrations_create_the_tables_the_code_queries as test_advocacy_tables_match,
)


def test_the_advocacy_branch_is_a_head(program_store):  # noqa: F811
    import sqlalchemy as sa

    with program_store.engine.connect() as conn:
        heads = set(conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars())
    assert "0101" in heads
