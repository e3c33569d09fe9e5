"""The touchpoint catalogue of the Buy -> Own -> Advocate journey, and the channel names."""

from __future__ import annotations

import pyarrow as pa

# (touchpoint, stage, usual channel, owner team, description)
TOUCHPOINTS: tuple[tuple[str, str, str, str, str], ...] = (
    ("product_view", "buy", "web", "ecommerce", "A product page is viewed."),
    ("search", "buy", "web", "ecommerce", "A search on the web site or in the app."),
    ("add_to_cart", "buy", "web", "ecommerce", "A product is put in the cart."),
    ("checkout", "buy", "web", "ecommerce", "Payment at the online checkout or the store till."),
    ("store_visit", "buy", "store", "stores", "A visit to a Northwind store."),
    ("delivery", "own", "partner", "logistics", "The parcel reaches the customer."),
    (
        "onboarding",
        "own",
        "email",
        "product",
        "Welcome e-mails and set-up help after a first order.",
    ),
    ("support_contact", "own", "call_center", "customer_care", "A call or e-mail to support."),
    ("chat", "own", "chat", "customer_care", "A support conversation in the live chat."),
    ("return", "own", "web", "logistics", "An item is sent back or brought back for a refund."),
    (
        "loyalty_lounge",
        "own",
        "web",
        "loyalty",
        "A visit to the members' lounge of the loyalty programme (online or in store).",
    ),
    ("review", "advocate", "web", "marketing", "A public rating and review is published."),
    ("referral", "advocate", "web", "marketing", "A customer invites a friend with their code."),
    ("social_share", "advocate", "social", "marketing", "A product or post is shared socially."),
)

TP = {row[0]: i for i, row in enumerate(TOUCHPOINTS)}
"""Touchpoint name -> code used in the event arrays."""

STAGES = tuple(row[1] for row in TOUCHPOINTS)

CHANNELS: tuple[str, ...] = (
    "web", "app", "store", "call_center", "email", "chat", "social", "partner",
)  # fmt: skip
CH = {name: i for i, name in enumerate(CHANNELS)}


def touchpoints_table() -> pa.Table:
    """The catalogue as the `touchpoints` kind of the data contract."""
    columns = list(zip(*TOUCHPOINTS, strict=True))
    names = ["touchpoint", "stage", "channel", "owner", "description"]
    pairs = zip(names, columns, strict=True)
    return pa.table({name: pa.array(col, pa.string()) for name, col in pairs})
