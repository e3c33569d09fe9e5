"""Property tests of loading: idempotent, and independent of row order when keys are unique."""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import cxloop
from tests.conftest import write

amounts = st.one_of(
    st.decimals(min_value=0, max_value=10_000, places=2).map(str),
    st.sampled_from(["-1", "abc", "", "1,5", "1e3", "12.34567"]),
)
dates = st.sampled_from(["2024-01-01", "2024-02-30", "2024-03-01T10:00:00Z", "", "never"])
rows = st.lists(
    st.tuples(st.integers(0, 30), st.sampled_from(["c1", "c2", ""]), dates, amounts),
    min_size=1,
    max_size=25,
)


def _csv(records) -> str:
    lines = ["order_id,customer_id,ordered_at,amount"]
    lines += [f"o{i},{c},{d},{a}" for i, c, d, a in records]
    return "\n".join(lines) + "\n"


def _state(ws):
    return sorted(
        ws.engine.fetchall("SELECT order_id, customer_id, ordered_at, amount, status FROM orders")
    )


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(records=rows, seed=st.integers(0, 10_000))
def test_loading_is_idempotent_and_order_independent(tmp_path_factory, records, seed):
    base = tmp_path_factory.mktemp("prop")
    # Unique keys, so that "the last row of a key wins" cannot depend on order.
    unique = list({r[0]: r for r in records}.values())
    shuffled = random.Random(seed).sample(unique, len(unique))
    with cxloop.Workspace.init(base / "a") as a, cxloop.Workspace.init(base / "b") as b:
        first = a.ingest([write(base / "orders.csv", _csv(unique))]).files[0]
        state = _state(a)
        again = a.ingest([base / "orders.csv"]).files[0]
        assert _state(a) == state
        assert again.loaded == again.updated == 0
        assert again.duplicates == first.loaded and again.rejected == first.rejected
        assert first.rows == first.loaded + first.rejected == len(unique)
        b.ingest([write(base / "shuffled_orders.csv", _csv(shuffled))])
        assert _state(b) == state
