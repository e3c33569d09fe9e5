"""Routing rules and trigger rules: what they match (themes, sentiment, value, relational
answers) and how a wrong rule is reported (the rule's text and what is wrong)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from cxloop.config import WorkspaceConfig
from cxloop.errors import ConfigError
from cxloop.loop_settings import CasesSettings, TriggersSettings
from cxloop.programs.cases import Cases
from cxloop.programs.closed_loop_tables import cases
from cxloop.programs.errors import ProgramError
from cxloop.programs.store import ProgramStore
from tests.conftest import write
from tests.loop_helpers import loop_workspace
from tests.test_cases import Clock, draft

FEEDBACK = """response_id,customer_id,source,submitted_at,metric,score,touchpoint,text
F1,C1,shop,2026-01-05T10:00:00Z,csat,4,delivery,The courier left my parcel in the rain
F2,C1,shop,2026-01-05T11:00:00Z,csat,5,checkout,"Awful, terrible, horrible experience"
F3,C2,shop,2026-01-05T12:00:00Z,nps,3,,I will not come back
F4,C2,shop,2026-01-05T13:00:00Z,nps,9,delivery,Fine
F5,C2,shop,2026-01-05T14:00:00Z,rating,1,mystery_moment,
"""
TOUCHPOINTS = "touchpoint,stage,owner\ndelivery,own,logistics\ncheckout,buy,ecommerce\n"
CUSTOMERS = "customer_id,source,email\nC1,shop,a@example.com\nC2,shop,b@example.com\n"
RULES = [
    "theme=delivery -> logistics high",
    "sentiment<=-0.5 -> customer_care low",
    "metric=nps score<=6 touchpoint=none -> relationship normal",
    "metric=rating score<=2 -> owner normal",
]


def test_themes_sentiment_relational_and_unowned_answers_are_routed_by_their_rule(tmp_path):
    ws = loop_workspace(tmp_path / "ws", cases={"rules": RULES})
    ws.close()
    text = (tmp_path / "ws" / "cxloop.toml").read_text()
    text = text.replace(
        '# delivery = ["late", "courier", "parcel", "tracking"]',
        'delivery = ["late", "courier", "parcel", "tracking"]',
    )
    (tmp_path / "ws" / "cxloop.toml").write_text(text)
    from cxloop import Workspace

    with Workspace.open(tmp_path / "ws") as ws:
        ws.ingest(
            [
                write(tmp_path / "in" / "customers.csv", CUSTOMERS),
                write(tmp_path / "in" / "touchpoints.csv", TOUCHPOINTS),
                write(tmp_path / "in" / "feedback.csv", FEEDBACK),
            ]
        )
        with ProgramStore.open(ws.path) as store, store.read() as conn:
            rows = conn.execute(
                sa.select(cases.c.feedback_key, cases.c.team, cases.c.priority, cases.c.themes)
            ).all()
    routed = {key.split(":")[-1]: (team, priority, themes) for key, team, priority, themes in rows}
    assert routed == {
        "F1": ("logistics", "high", "delivery"),  # the pinned theme, whatever the score
        "F2": ("customer_care", "low", ""),  # very negative text
        "F3": ("relationship", "normal", ""),  # no touchpoint: about the relationship
        "F5": ("customer_care", "normal", ""),  # the catalogue gives the moment no owner
    }


@pytest.mark.parametrize(
    ("section", "values", "message"),
    [
        ("cases", {"rules": ["score<=6 -> owner urgent"]}, "priority must be one of"),
        ("cases", {"rules": ["scor<=6 -> owner high"]}, "unknown field 'scor'"),
        ("cases", {"rules": ["score<=six -> owner high"]}, "compares with a number"),
        ("cases", {"rules": ["metric=nps"]}, "CONDITIONS -> TEAM PRIORITY"),
        ("cases", {"sla": ["high:24:72"]}, "uses priority 'normal', which has no sla"),
        ("cases", {"teams": ["care"]}, "team:person,person"),
        ("triggers", {"rules": ["x: event touchpoint=a -> email"]}, "action must be one of"),
        ("triggers", {"rules": ["x: clicks -> survey ces"]}, "unknown source 'clicks'"),
        ("triggers", {"rules": ["x: segment vips -> winback_offer"]}, "segment needs one of"),
        ("triggers", {"rules": ["x: order amount>=1 -> points many"]}, "whole number"),
        ("triggers", {"rules": ["x: event -> webhook crm"]}, "webhook 'crm'"),
        ("triggers", {"quiet_hours": "late"}, "HH:MM-HH:MM"),
        ("triggers", {"holdout_percent": 100}, "holdout_percent"),
        ("triggers", {"webhooks": ["crm ftp://x"]}, "name http(s)://host/path"),
        # No webhook at all: a rule that posts to "default" would only fill the dead letters.
        ("triggers", {"rules": ["x: event -> survey ces"]}, 'the "default" webhook'),
        ("triggers", {"rules": ["x: segment promoter -> review_request"]}, '"default" webhook'),
        (
            "cases",
            {"enabled": True},
            "[cases] follow_up_webhook 'default' is not in [triggers] webhooks",
        ),
        ("triggers", {"colour": "red"}, "unknown setting [triggers] colour"),
    ],
)
def test_a_wrong_setting_is_reported_with_its_key_and_reason(section, values, message):
    with pytest.raises(ConfigError) as error:
        WorkspaceConfig.from_dict({section: values}, origin="cxloop.toml")
    assert "cxloop.toml" in str(error.value)
    assert message in str(error.value)


def test_a_roster_refuses_someone_outside_the_team(tmp_path):
    settings = CasesSettings(teams=("logistics:ana,ben",))
    with ProgramStore.open(tmp_path) as store:
        service = Cases(store, settings, TriggersSettings(), clock=Clock())
        service.open_many([draft("feedback:crm:r9")])
        [case] = service.list()
        with pytest.raises(ProgramError, match="'zoe' is not in team logistics's roster"):
            service.assign(case.case_id, "zoe", actor="lead")
        assert service.assign(case.case_id, "ben", actor="lead").assignee == "ben"
