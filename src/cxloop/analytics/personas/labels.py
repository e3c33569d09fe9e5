"""Personas described in plain words from the features that set them apart.

A persona's label is made of the 2-4 features whose persona mean differs most from the
overall mean, in standard deviations, each turned into a short phrase from a small
vocabulary ("frequent buyer", "small baskets", "buys mostly via web", "searches a lot").
A phrase says what is unusual about the group, so the words are the evidence: the same
numbers are in the persona's `distinguishing` list.
"""

from __future__ import annotations

from typing import Any

import numpy as np

MIN_Z = 0.5
NOISE_Z = 0.1
"""Standardised differences below this are noise, never words ("typical customer" instead)."""
"""A difference of half a standard deviation is a noticeable one (Cohen's medium effect);
smaller ones are named only when nothing larger sets the persona apart."""
MIN_WORDS, MAX_WORDS = 2, 4
LOW_SHARE_WEIGHT = 0.6
"""A low channel or touchpoint share says what a persona does not do, a high one what it does;
people recognise a persona by what it does, so when ranking, a low share counts 0.6 of its
size (a persona of online shoppers reads "browses a lot", not "rarely visits stores")."""

WORDS: dict[str, tuple[str, str]] = {
    "orders_per_year": ("frequent buyer", "rare buyer"),
    "order_value": ("big baskets", "small baskets"),
    "q4_share": ("holiday-season buyer", "buys outside the holidays"),
    "events_per_order": ("many interactions per order", "few interactions per order"),
    "sentiment": ("positive in feedback", "negative in feedback"),
    "nps": ("likely to recommend", "unlikely to recommend"),
    "has_feedback": ("gives feedback", "gives no feedback"),
}
CHANNEL_NAMES = {
    "web": "web",
    "app": "the app",
    "store": "stores",
    "email": "email",
    "call_center": "the call centre",
    "chat": "chat",
    "social": "social media",
    "partner": "partners",
    "other": "other channels",
}
TOUCHPOINT_WORDS = {
    "search": ("searches a lot", "rarely searches"),
    "product_view": ("browses a lot", "browses little"),
    "add_to_cart": ("fills carts", "seldom fills carts"),
    "checkout": ("checks out often", "seldom checks out"),
    "store_visit": ("visits stores", "rarely visits stores"),
    "delivery": ("many deliveries", "few deliveries"),
    "onboarding": ("much onboarding", "little onboarding"),
    "support_contact": ("contacts support often", "rarely contacts support"),
    "chat": ("chats with support", "rarely chats"),
    "return": ("returns often", "rarely returns"),
    "loyalty_lounge": ("uses the loyalty lounge", "skips the loyalty lounge"),
    "review": ("writes reviews", "rarely reviews"),
    "referral": ("refers friends", "rarely refers"),
    "social_share": ("shares on social media", "rarely shares"),
    "other": ("uses other touchpoints", "few other touchpoints"),
}


def _readable(name: str) -> str:
    return name.replace("_", " ")


def phrase(feature: str, high: bool) -> str:
    """The words for a feature that is high (or low) in a persona."""
    if feature in WORDS:
        return WORDS[feature][0 if high else 1]
    group, _, value = feature.partition(":")
    if group == "order_channel":
        where = CHANNEL_NAMES.get(value, _readable(value))
        return f"buys mostly via {where}" if high else f"rarely buys via {where}"
    if group == "event_channel":
        where = CHANNEL_NAMES.get(value, _readable(value))
        return f"engages via {where}" if high else f"little contact via {where}"
    if group == "touchpoint":
        if value in TOUCHPOINT_WORDS:
            return TOUCHPOINT_WORDS[value][0 if high else 1]
        return f"often at {_readable(value)}" if high else f"seldom at {_readable(value)}"
    return f"high {_readable(feature)}" if high else f"low {_readable(feature)}"


def _candidates(names: list[str], diff: np.ndarray) -> list[tuple[str, float, str]]:
    """Features by |difference|, with their phrase, skipping words that repeat a chosen one:
    a channel already named for orders is not named again for events, and a low share in a
    group whose high share is named ("mostly stores" implies "rarely web") is left out."""
    weight = np.array(
        [
            LOW_SHARE_WEIGHT if ":" in name and d < 0 else 1.0
            for name, d in zip(names, diff, strict=True)
        ]
    )
    order = np.argsort(-np.abs(np.nan_to_num(diff)) * weight, kind="stable")
    out: list[tuple[str, float, str]] = []
    high_groups: set[str] = set()
    channels: set[tuple[str, bool]] = set()
    for j in order:
        name, d = names[j], float(diff[j])
        if not np.isfinite(d) or abs(d) < NOISE_Z:  # no real difference: nothing to name
            continue
        group, _, value = name.partition(":")
        high = d > 0
        if value and not high and group in high_groups:
            continue
        if group in ("order_channel", "event_channel") and (value, high) in channels:
            continue
        if value:
            if high:
                high_groups.add(group)
            if group in ("order_channel", "event_channel"):
                channels.add((value, high))
        out.append((name, d, phrase(name, high)))
    return out


def describe(
    names: list[str], centroids_z: np.ndarray, centroids_raw: np.ndarray, overall_raw: np.ndarray
) -> tuple[list[str], list[list[dict[str, Any]]]]:
    """A label per persona and the features behind it; labels are made unique by adding the
    next distinguishing feature when two personas would read the same."""
    candidates = [_candidates(names, centroids_z[j]) for j in range(len(centroids_z))]
    counts = []
    for cands in candidates:
        strong = sum(1 for _, d, _ in cands if abs(d) >= MIN_Z)
        counts.append(min(max(strong, MIN_WORDS), MAX_WORDS, len(cands)))

    def joined() -> list[str]:
        return [
            ", ".join(words for _, _, words in c[:n]) or "typical customer"
            for c, n in zip(candidates, counts, strict=True)
        ]

    for _ in range(6):
        labels = joined()
        clashes = {label for label in labels if labels.count(label) > 1}
        grow = [j for j, label in enumerate(labels) if label in clashes]
        grow = [j for j in grow if counts[j] < len(candidates[j])]
        if not grow:
            break
        for j in grow:
            counts[j] += 1
    labels = joined()
    labels = [
        label if labels.count(label) == 1 else f"{label} ({j + 1})"
        for j, label in enumerate(labels)
    ]
    column = {name: i for i, name in enumerate(names)}
    details = [
        [
            {
                "feature": name,
                "z": d,
                "mean": float(centroids_raw[j, column[name]]),
                "overall_mean": float(overall_raw[column[name]]),
                "words": words,
            }
            for name, d, words in candidates[j][: counts[j]]
        ]
        for j in range(len(candidates))
    ]
    return labels, details
