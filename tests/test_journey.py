"""Journeys against a small hand-computed case (every figure worked out in comments).

Three customers in January 2025 (times UTC):

c1: 01-01 10:00 product_view, 10:05 add_to_cart, 10:10 checkout, order o1 10:10 (web);
    01-03 09:00 delivery (post); 01-05 public rating r1 (advocacy);
    01-10 12:00 product_view (web); order o2 01-11 00:00 (web).
c2: 01-02 08:00 product_view, 08:10 add_to_cart (failed); never orders.
c3: 01-04 10:00 product_view, 11:00 product_view, 11:05 checkout, order o3 11:05 (app);
    01-06 10:00 support_contact (phone); 01-08 referral f1 (advocacy).

Stage visits (runs of one stage): c1 buy, own, advocate, buy; c2 buy; c3 buy, own, advocate.
"""

from __future__ import annotations

import json
import math

import pytest

import cxloop
from cxloop.analytics.journey import JourneySettings, build_journey
from tests.conftest import run_cli, write

CUSTOMERS = """customer_id,email
c1,c1@x.com
c2,c2@x.com
c3,c3@x.com
"""
EVENTS = """event_id,customer_id,occurred_at,touchpoint,channel,duration_s,success
e1,c1,2025-01-01T10:00:00,product_view,web,10,true
e2,c1,2025-01-01T10:05:00,add_to_cart,web,20,true
e3,c1,2025-01-01T10:10:00,checkout,web,30,true
e4,c1,2025-01-03T09:00:00,delivery,post,,true
e5,c1,2025-01-10T12:00:00,product_view,web,40,true
e6,c2,2025-01-02T08:00:00,product_view,web,20,true
e7,c2,2025-01-02T08:10:00,add_to_cart,web,10,false
e8,c3,2025-01-04T10:00:00,product_view,app,30,true
e9,c3,2025-01-04T11:00:00,product_view,app,50,true
e10,c3,2025-01-04T11:05:00,checkout,app,60,true
e11,c3,2025-01-06T10:00:00,support_contact,phone,300,false
"""
ORDERS = """order_id,customer_id,ordered_at,amount,status,channel
o1,c1,2025-01-01T10:10:00,100,completed,web
o2,c1,2025-01-11T00:00:00,50,completed,web
o3,c3,2025-01-04T11:05:00,30,completed,app
o4,c2,2025-01-02T09:00:00,30,cancelled,web
"""
FEEDBACK = """response_id,customer_id,submitted_at,metric,score,touchpoint,public
r1,c1,2025-01-05,rating,5,,true
r2,c1,2025-01-02,ces,6,checkout,false
r3,c3,2025-01-05,ces,4,checkout,false
r4,c3,2025-01-07,ces,2,support_contact,false
"""
REFERRALS = """referral_id,referrer_id,created_at
f1,c3,2025-01-08
"""
TOUCHPOINTS = """touchpoint,stage,channel,owner
product_view,buy,web,ecommerce
add_to_cart,buy,web,ecommerce
checkout,buy,web,ecommerce
delivery,own,,logistics
support_contact,own,,customer_care
review_prompt,advocate,email,marketing
"""


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    base = tmp_path_factory.mktemp("journey")
    workspace = cxloop.Workspace.init(base / "ws", brand="Northwind")
    files = [
        write(base / f"{name}.csv", text)
        for name, text in [
            ("customers", CUSTOMERS),
            ("touchpoints", TOUCHPOINTS),
            ("events", EVENTS),
            ("orders", ORDERS),
            ("feedback", FEEDBACK),
            ("referrals", REFERRALS),
        ]
    ]
    assert all(f.rejected == 0 for f in workspace.ingest(files).files)
    yield workspace
    workspace.close()


@pytest.fixture(scope="module")
def doc(ws):
    return build_journey(ws, JourneySettings(period="month"))


def by(rows, **keys):
    found = [r for r in rows if all(r[k] == v for k, v in keys.items())]
    assert len(found) == 1, (keys, found)
    return found[0]


def test_stages_and_stalls(doc):
    buy, own, advocate = doc["stages"]
    # buy acts: c1 e1 e2 e3 o1 e5 o2 (6), c2 e6 e7 (2), c3 e8 e9 e10 o3 (4) = 12; the
    # cancelled o4 is no act. Visits: c1 two, c2 one, c3 one.
    assert (buy["stage"], buy["profiles"], buy["acts"], buy["visits"]) == ("buy", 3, 12, 4)
    assert (own["profiles"], own["acts"], own["visits"]) == (2, 2, 2)  # e4, e11
    assert (advocate["profiles"], advocate["acts"], advocate["visits"]) == (2, 2, 2)  # r1, f1
    # Last stage: c1 buy (o2), c2 buy, c3 advocate (f1): stalled 2/3, 0/3, 1/3.
    assert buy["stalled"]["value"] == pytest.approx(2 / 3) and buy["stalled"]["n"] == 3
    assert own["stalled"]["value"] == 0.0
    assert advocate["stalled"]["value"] == pytest.approx(1 / 3)
    assert buy["stalled"]["ci_low"] < 2 / 3 < buy["stalled"]["ci_high"]


def test_loop_completion(doc):
    loop = doc["loop"]
    # Customers c1, c3. c1: o1, then e4 (own), then r1 (advocate), then o2: complete.
    # c3: o3, e11, f1, and no later order: not complete. 1 / 2.
    assert (loop["customers"], loop["owned"], loop["advocated"], loop["completed"]) == (2, 2, 2, 1)
    assert loop["completion_rate"]["value"] == pytest.approx(0.5)
    assert loop["completion_rate"]["n"] == 2


def test_transitions(doc):
    t = doc["transitions"]
    buy_own = by(t, **{"from": "buy", "to": "own"})
    # c1 buy visit 01-01 10:00 -> own 01-03 09:00 = 47 h; c3 01-04 10:00 -> 01-06 10:00 = 48 h.
    # 2 of 4 buy visits; median (47 + 48) / 2 h = 47.5 / 24 days.
    assert buy_own["transitions"] == 2
    assert (buy_own["rate"]["value"], buy_own["rate"]["n"]) == (0.5, 4)
    assert buy_own["median_days"]["value"] == pytest.approx(47.5 / 24)
    own_adv = by(t, **{"from": "own", "to": "advocate"})
    # c1 01-03 09:00 -> 01-05 00:00 = 39 h; c3 01-06 10:00 -> 01-08 00:00 = 38 h. 2 of 2.
    assert own_adv["rate"]["value"] == 1.0
    assert own_adv["median_days"]["value"] == pytest.approx(38.5 / 24)
    again = by(t, **{"from": "advocate", "to": "buy"})
    # c1 01-05 00:00 -> 01-10 12:00 = 5.5 days; 1 of 2 advocate visits.
    assert (again["transitions"], again["rate"]["value"]) == (1, 0.5)
    assert again["median_days"]["value"] == pytest.approx(5.5)
    own_buy = by(t, **{"from": "own", "to": "buy"})
    assert own_buy["rate"] == {
        "value": 0.0,
        "n": 2,
        **{k: own_buy["rate"][k] for k in ("ci_low", "ci_high")},
    }
    assert own_buy["median_days"] == {"value": None, "n": 0}


def test_touchpoints(doc):
    tps = {r["touchpoint"]: r for r in doc["touchpoints"]}
    assert sorted(tps) == [
        "add_to_cart",
        "checkout",
        "delivery",
        "product_view",
        "review_prompt",
        "support_contact",
    ]
    pv = tps["product_view"]
    assert pv["stage"] == "buy" and pv["owner"] == "ecommerce"
    assert pv["reach"] == {"profiles": 3, "events": 5}  # e1 e5 e6 e8 e9
    assert pv["efficiency"]["duration_median"] == {"value": 30.0, "n": 5}  # 10 20 30 40 50
    assert pv["efficiency"]["repeats"]["value"] == pytest.approx(5 / 3)
    assert pv["effectiveness"]["success_rate"]["value"] == 1.0
    # Next step of a buy touchpoint: a completed order within 30 days: c1 (o1), c3 (o3), not c2.
    assert pv["effectiveness"]["next_step"] == "purchase"
    assert pv["effectiveness"]["conversion"]["value"] == pytest.approx(2 / 3)
    assert pv["effectiveness"]["conversion"]["n"] == 3
    cart = tps["add_to_cart"]
    assert cart["efficiency"]["duration_median"]["value"] == 15.0  # 20, 10
    assert cart["effectiveness"]["success_rate"]["value"] == 0.5  # e7 failed
    assert cart["effectiveness"]["conversion"]["value"] == 0.5  # c1 yes, c2 no
    checkout = tps["checkout"]
    # CES answers 6 and 4: mean 5, s^2 = 2, n 2; the t interval 5 +- 12.71 is clipped to 1..7.
    assert checkout["efficiency"]["ces"] == {"value": 5.0, "n": 2, "ci_low": 1.0, "ci_high": 7.0}
    # An order at the checkout's own time counts (at or after the event).
    assert checkout["effectiveness"]["conversion"]["value"] == 1.0
    support = tps["support_contact"]
    assert support["efficiency"]["ces"]["value"] == 2.0 and support["efficiency"]["ces"]["n"] == 1
    assert support["efficiency"]["ces"]["ci_low"] is None  # one answer: no interval
    assert support["effectiveness"]["success_rate"]["value"] == 0.0
    # Own touchpoint: next step is advocacy; c3's referral f1 follows e11 by 38 h.
    assert support["effectiveness"]["next_step"] == "advocacy"
    assert support["effectiveness"]["conversion"]["value"] == 1.0
    delivery = tps["delivery"]
    assert delivery["efficiency"]["duration_median"] == {"value": None, "n": 0}
    prompt = tps["review_prompt"]  # in the catalogue, never seen
    assert prompt["reach"] == {"profiles": 0, "events": 0}
    assert prompt["effectiveness"]["conversion"]["value"] is None
    assert prompt["effectiveness"]["conversion"]["n"] == 0


def test_conversion_window_is_a_setting(ws):
    doc = build_journey(ws, JourneySettings(conversion_window_days=1.5))
    tps = {r["touchpoint"]: r for r in doc["touchpoints"]}
    # delivery e4 01-03 09:00 -> r1 01-05 00:00 is 39 h > 36 h: no longer converted.
    assert tps["delivery"]["effectiveness"]["conversion"]["value"] == 0.0


def test_funnel(doc):
    f = doc["funnel"]
    overall = by(f, channel="(all)", period=None)
    # Closed funnel: a step counts a profile that also did every earlier step in the cell.
    # Viewed c1 c2 c3; carted c1 c2 (c3 skipped the cart); checkout c1; order c1.
    assert [s["profiles"] for s in overall["steps"]] == [3, 2, 1, 1]
    assert [s["step"] for s in overall["steps"]] == [
        "product_view",
        "add_to_cart",
        "checkout",
        "order",
    ]
    assert overall["steps"][0]["rate"] is None
    assert [s["rate"]["value"] for s in overall["steps"][1:]] == [pytest.approx(2 / 3), 0.5, 1.0]
    assert overall["view_to_order"]["value"] == pytest.approx(1 / 3)
    # Carts e2 (o1 five minutes later) and e7 (no order): 1 of 2 abandoned.
    assert overall["cart_abandonment"]["value"] == 0.5 and overall["cart_abandonment"]["n"] == 2
    # Visits: c1 {e1 e2 e3} {e4} {e5}; c2 {e6 e7}; c3 {e8} {e9 e10} {e11}: 4 of 7 bounce.
    assert overall["bounce_rate"]["value"] == pytest.approx(4 / 7)
    assert overall["bounce_rate"]["n"] == 7
    web = by(f, channel="web", period=None)
    assert [s["profiles"] for s in web["steps"]] == [2, 2, 1, 1]  # c1, c2
    assert web["bounce_rate"]["value"] == pytest.approx(1 / 3)  # {e5} of 3 web visits
    app = by(f, channel="app", period="2025-01")
    assert [s["profiles"] for s in app["steps"]] == [1, 0, 0, 0]
    assert app["steps"][2]["rate"] == {"value": None, "n": 0, "ci_low": None, "ci_high": None}
    assert app["cart_abandonment"]["value"] is None and app["bounce_rate"]["value"] == 0.5
    assert by(f, channel="(all)", period="2025-01")["steps"][0]["profiles"] == 3


def test_paths(doc):
    purchase = [p for p in doc["paths"] if p["target"] == "purchase"]
    # Events at or before the first order, runs collapsed (c3's two views are one step):
    # c1 [pv, cart, checkout] converted; c3 [pv, checkout] converted; c2 [pv, cart] null path.
    assert [(p["path"], p["journeys"], p["conversions"]) for p in purchase] == [
        (["product_view", "add_to_cart", "checkout"], 1, 1),
        (["product_view", "checkout"], 1, 1),
        (["product_view", "add_to_cart"], 1, 0),
    ]
    assert purchase[2]["null_journeys"] == 1
    advocacy = [p for p in doc["paths"] if p["target"] == "advocacy"]
    # Events strictly before the first advocacy act (r1 01-05, f1 01-08).
    assert sorted(p["path"] for p in advocacy if p["conversions"]) == [
        ["product_view", "add_to_cart", "checkout", "delivery"],
        ["product_view", "checkout", "support_contact"],
    ]


def test_path_length_is_capped(ws):
    doc = build_journey(ws, JourneySettings(path_steps=2, top_paths=1))
    purchase = [p for p in doc["paths"] if p["target"] == "purchase"]
    # The last two steps; c1 [cart, checkout] and c2 [pv, cart] tie at 1 journey, the
    # converting one first.
    assert [p["path"] for p in purchase] == [["add_to_cart", "checkout"]]


def test_attribution(doc):
    purchase = by(doc["attribution"], target="purchase")
    assert (purchase["journeys"], purchase["conversions"], purchase["null_journeys"]) == (3, 2, 1)
    assert purchase["direct_conversions"] == 0
    # Chain: START -> pv (3); pv -> cart 2/3, pv -> checkout 1/3; cart -> checkout 1/2,
    # cart -> NULL 1/2; checkout -> CONVERSION. P = 2/3 * 1/2 + 1/3 = 2/3.
    assert purchase["conversion_probability"] == pytest.approx(2 / 3)
    rows = {r["touchpoint"]: r for r in purchase["touchpoints"]}
    # Without pv or checkout P = 0 (effect 1); without cart P = 1/3 (effect 1 - 1/2 = 0.5).
    assert rows["product_view"]["removal_effect"] == pytest.approx(1.0)
    assert rows["add_to_cart"]["removal_effect"] == pytest.approx(0.5)
    assert rows["checkout"]["removal_effect"] == pytest.approx(1.0)
    # 2 conversions split 1 : 0.5 : 1 -> 0.8, 0.4, 0.8.
    assert rows["add_to_cart"]["markov_conversions"] == pytest.approx(0.4)
    assert rows["product_view"]["first_touch"] == 2.0 and rows["checkout"]["last_touch"] == 2.0
    # Linear: c1's path gives 1/3 to each step, c3's 1/2 to pv and checkout.
    assert rows["product_view"]["linear"] == pytest.approx(5 / 6)
    assert rows["add_to_cart"]["linear"] == pytest.approx(1 / 3)
    advocacy = by(doc["attribution"], target="advocacy")
    assert (advocacy["journeys"], advocacy["conversions"]) == (3, 2)


def test_attribution_by_channel(doc):
    purchase = by(doc["attribution"], target="purchase")
    # Channel paths: c1 [web] converts, c2 [web] does not, c3 [app] converts. Chain:
    # START -> web 2/3, -> app 1/3; web -> CONVERSION 1/2; app -> CONVERSION 1. P = 2/3.
    # Without web P = 1/3 (effect 0.5); without app P = 1/3 (effect 0.5).
    rows = {r["channel"]: r for r in purchase["channels"]}
    assert set(rows) == {"web", "app"}
    assert rows["web"]["removal_effect"] == pytest.approx(0.5)
    assert rows["app"]["removal_effect"] == pytest.approx(0.5)
    assert rows["web"]["markov_conversions"] == pytest.approx(1.0)
    assert rows["web"]["first_touch"] == 1.0 and rows["app"]["last_touch"] == 1.0


def test_empty_workspace(tmp_path):
    with cxloop.Workspace.init(tmp_path / "empty") as workspace:
        doc = build_journey(workspace)
    assert [s["stalled"] for s in doc["stages"]] == [
        {"value": None, "n": 0, "ci_low": None, "ci_high": None}
    ] * 3
    assert doc["loop"]["completion_rate"]["value"] is None
    assert all(t["rate"]["value"] is None for t in doc["transitions"])
    assert doc["touchpoints"] == [] and doc["paths"] == []
    # The overall funnel row is always there; with no data every rate is null.
    (overall,) = doc["funnel"]
    assert (overall["channel"], overall["period"]) == ("(all)", None)
    assert overall["view_to_order"]["value"] is None and overall["bounce_rate"]["n"] == 0
    assert [a["touchpoints"] for a in doc["attribution"]] == [[], []]
    assert [a["channels"] for a in doc["attribution"]] == [[], []]
    json.dumps(doc, allow_nan=False)


def test_no_nan_anywhere(doc):
    def walk(x):
        if isinstance(x, float):
            assert math.isfinite(x)
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)

    walk(doc)
    json.dumps(doc, allow_nan=False)


def test_cli_json_and_tables(tmp_path):
    files = [
        write(tmp_path / f"{name}.csv", text)
        for name, text in [("touchpoints", TOUCHPOINTS), ("events", EVENTS), ("orders", ORDERS)]
    ]
    with cxloop.Workspace.init(tmp_path / "ws") as workspace:
        workspace.ingest(files)
    path = str(tmp_path / "ws")
    result = run_cli("journey", path, "--json", "--cart-window-hours", "12")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) >= {"stages", "transitions", "touchpoints", "funnel", "paths", "attribution"}
    assert doc["settings"]["cart_window_hours"] == 12
    assert doc["loop"]["customers"] == 2  # c1, c3 (no customer file: ids from the events)
    readable = run_cli("journey", path)
    assert readable.returncode == 0, readable.stderr
    assert "Transitions" in readable.stdout and "product_view" in readable.stdout
    bad = run_cli("journey", path, "--period", "week")
    assert bad.returncode != 0 and "unknown period" in bad.stderr


def test_journey_windows_come_from_the_workspace_config(tmp_path):
    import cxloop
    from cxloop.analytics.journey import JourneySettings

    ws = cxloop.Workspace.init(tmp_path / "ws")
    config = tmp_path / "ws" / "cxloop.toml"
    config.write_text(
        config.read_text().replace("cart_window_hours = 24", "cart_window_hours = 48")
    )
    ws.close()
    with cxloop.Workspace.open(tmp_path / "ws") as ws:
        assert JourneySettings.from_config(ws.config).cart_window_hours == 48.0
        override = JourneySettings.from_config(ws.config, cart_window_hours=2.0)
        assert override.cart_window_hours == 2.0


def test_a_stage_nobody_has_left_has_rates_of_zero_not_null(tmp_path):
    import cxloop
    from cxloop.analytics.journey import build_journey

    events = (
        "event_id,customer_id,occurred_at,touchpoint,stage\n"
        "e1,c1,2024-01-01T10:00:00,checkout,buy\ne2,c1,2024-01-10T10:00:00,delivery,own\n"
    )
    orders = "order_id,customer_id,ordered_at,amount\no1,c1,2024-01-01T10:20:00,10\n"
    with cxloop.Workspace.init(tmp_path / "ws") as ws:
        ws.ingest([write(tmp_path / "events.csv", events), write(tmp_path / "orders.csv", orders)])
        doc = build_journey(ws)
    rates = {(t["from"], t["to"]): t["rate"] for t in doc["transitions"]}
    # The own visit is c1's last: nobody has moved on yet, so 0 of 1, not "no data".
    assert (rates[("own", "advocate")]["value"], rates[("own", "advocate")]["n"]) == (0.0, 1)
    assert rates[("advocate", "buy")]["n"] == 0  # no advocate visit at all: no data


def test_events_at_one_time_follow_event_id_and_a_repeated_event_is_one_cart(tmp_path):
    import cxloop
    from cxloop.analytics.journey import build_journey

    # t1's cart and checkout happen in the same second: `event_id` orders them (a before b),
    # whatever the file order. The cart also arrives from a second source under the same
    # event_id (one event, two systems): one cart, not two. t2's late view ends the data.
    events = (
        "source,event_id,customer_id,occurred_at,touchpoint,channel\n"
        "web,b,t1,2025-02-01T10:00:00,checkout,web\n"
        "web,c,t1,2025-02-01T09:59:00,product_view,web\n"
        "web,a,t1,2025-02-01T10:00:00,add_to_cart,web\n"
        "app,a,t1,2025-02-01T10:00:00,add_to_cart,web\n"
        "web,d,t2,2025-02-05T12:00:00,product_view,web\n"
    )
    orders = (
        "order_id,customer_id,ordered_at,amount,status,channel\n"
        "o1,t1,2025-02-01T10:00:00,10,completed,web\n"
    )
    customers = (
        "source,customer_id,email\nweb,t1,t1@x.com\napp,t1,t1@x.com\ndefault,t1,t1@x.com\n"
        "web,t2,t2@x.com\n"
    )
    with cxloop.Workspace.init(tmp_path / "ws") as ws:
        ws.ingest(
            [
                write(tmp_path / "customers.csv", customers),
                write(tmp_path / "touchpoints.csv", TOUCHPOINTS),
                write(tmp_path / "events.csv", events),
                write(tmp_path / "orders.csv", orders),
            ]
        )
        doc = build_journey(ws)
    purchase = {tuple(p["path"]): p for p in doc["paths"] if p["target"] == "purchase"}
    assert purchase[("product_view", "add_to_cart", "checkout")]["conversions"] == 1
    overall = by(doc["funnel"], channel="(all)", period=None)
    assert [s["profiles"] for s in overall["steps"]] == [2, 1, 1, 1]
    # One cart (the order in the same second keeps it), of 1.
    assert (overall["cart_abandonment"]["value"], overall["cart_abandonment"]["n"]) == (0.0, 1)
    # Visits: t1's four events in one minute, t2's single view (a bounce).
    assert (overall["bounce_rate"]["value"], overall["bounce_rate"]["n"]) == (0.5, 2)
    buy = doc["stages"][0]
    # Buy acts: t1's four events and its order, t2's view; one visit each.
    assert (buy["acts"], buy["visits"], buy["profiles"]) == (6, 2, 2)
