"""Properties of rewards (hypothesis): however acts are reported, repeated and reversed, each
distinct act is paid once, a reversal takes back its own reward once, and the ledger's
balance is what the rewards that stand add up to."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxloop.programs.advocacy.rewards import Act, reverse_reward, reward_acts
from cxloop.programs.loyalty import Ledger
from cxloop.programs.store import ProgramStore
from tests.advocacy_fixtures import config_with

_PROFILES = itertools.count()


@pytest.fixture(scope="module")
def ledger(tmp_path_factory):
    with ProgramStore.open(tmp_path_factory.mktemp("reward-properties")) as store:
        yield Ledger(store)


steps = st.lists(
    st.tuples(st.sampled_from(["report", "report", "reverse"]), st.integers(0, 5),
              st.integers(1, 3)),
    min_size=1, max_size=25,
)  # fmt: skip


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip
@given(steps=steps)
def test_each_act_pays_once_and_reverses_once(ledger, steps):
    profile = f"PROP{next(_PROFILES):012d}"
    cfg = config_with()
    points = {i: 10 * (i + 1) for i in range(6)}
    paid: set[int] = set()
    reversed_: set[int] = set()
    for what, act, copies in steps:
        key = f"{profile}:act{act}"
        if what == "report":
            one = Act(key, "review", profile, points[act], f"review {key}", "review", key)
            outcomes = reward_acts(ledger, cfg, [one] * copies, workers=copies)
            assert len({o.entry_id for o in outcomes}) == 1  # one entry, told to every copy
            expected_status = "already_rewarded" if act in paid else "rewarded"
            assert {o.status for o in outcomes} == {expected_status}
            paid.add(act)
        else:
            result = reverse_reward(ledger, key, reason="test")
            assert (result is None) == (act not in paid)
            if act in paid:
                reversed_.add(act)
    member = ledger.member_for_profile(profile)
    expected = sum(points[a] for a in paid - reversed_)
    assert (member.balance if member else 0) == expected
    entries = ledger.entries(member.member_id, limit=1000) if member else []
    assert sum(1 for e in entries if e.kind == "earn") == len(paid)
    assert sum(1 for e in entries if e.kind == "reverse") == len(reversed_)
