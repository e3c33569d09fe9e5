"""Verbatims: reviews, survey comments and social posts, composed from phrase banks.

Every phrase was written for this generator. A text is an optional opener, a core statement of
its theme and sentiment, an optional detail and an optional closer; mixing the fragments gives
thousands of distinct, natural-sounding texts whose theme and sentiment are known (and written
to the truth files), so cxloop's theme and sentiment analysis can be checked.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from cxloop.generate.strings import bank, join

THEMES: tuple[str, ...] = (
    "delivery", "product_quality", "price_value", "customer_service", "app_website", "returns",
)  # fmt: skip
SENTIMENTS: tuple[str, ...] = ("negative", "neutral", "positive")
"""Index 0, 1, 2 = sentiment sign -1, 0, +1."""

CORE: dict[tuple[str, str], tuple[str, ...]] = {
    ("delivery", "positive"): (
        "My parcel turned up a day earlier than promised.",
        "Delivery was quick and the tracking was spot on.",
        "The courier was friendly and the box arrived in perfect shape.",
        "Ordered on Monday, unpacking it on Wednesday.",
        "Shipping was fast, even with the holiday rush.",
        "Everything came well packed and right on time.",
    ),
    ("delivery", "negative"): (
        "My order arrived almost a week late.",
        "The parcel was stuck at the depot for days with no update.",
        "Delivery was late and nobody told me why.",
        "The tracking page said delivered but nothing was at my door.",
        "I took a day off to wait for the courier and they never came.",
        "The box showed up crushed and three days after the promised date.",
    ),
    ("delivery", "neutral"): (
        "Delivery took about the time they said it would.",
        "The parcel came in two separate boxes.",
        "Shipping was standard, nothing special either way.",
        "The courier left it with a neighbour, which was fine.",
    ),
    ("product_quality", "positive"): (
        "The quality is excellent for everyday use.",
        "Feels sturdy and well made, much better than I expected.",
        "I have used it daily for a month and it still looks new.",
        "The material is soft and the stitching is neat.",
        "Exactly as described, and it works perfectly.",
        "Great fit and the colour is just like the photos.",
    ),
    ("product_quality", "negative"): (
        "It broke after two weeks of normal use.",
        "The fabric feels thin and started to pill straight away.",
        "One of the parts was missing from the box.",
        "It looks nothing like the pictures on the site.",
        "The zip jammed the first time I used it.",
        "Cheaply made; the seams are already coming apart.",
    ),
    ("product_quality", "neutral"): (
        "It does the job, nothing more.",
        "Quality is about what you would expect for the price.",
        "The size runs a little small, so order one up.",
        "It is fine, though the colour is a shade darker than shown.",
    ),
    ("price_value", "positive"): (
        "Great value for money.",
        "The sale price made it a bargain.",
        "Cheaper than anywhere else I looked and just as good.",
        "Worth every cent.",
        "The member discount adds up nicely over the year.",
    ),
    ("price_value", "negative"): (
        "Way too expensive for what you get.",
        "The price went up twice since my last order.",
        "Shipping fees made the whole order overpriced.",
        "I found the same thing for much less elsewhere.",
        "Not worth the money at all.",
    ),
    ("price_value", "neutral"): (
        "The price is about average for this kind of product.",
        "I waited for a promotion before buying.",
        "Fair price, not a steal.",
        "Pricing is similar to other shops.",
    ),
    ("customer_service", "positive"): (
        "The support agent sorted out my problem in minutes.",
        "Customer service was patient and genuinely helpful.",
        "Someone from the care team called me back the same day.",
        "The chat team fixed my order without any fuss.",
        "They went out of their way to make it right.",
    ),
    ("customer_service", "negative"): (
        "I contacted support three times and the issue is still open.",
        "Customer service kept me on hold for forty minutes.",
        "The chat agent closed the conversation without solving anything.",
        "Nobody answers emails; I am still waiting for a reply.",
        "Support promised a call back that never happened.",
        "Every agent told me something different.",
    ),
    ("customer_service", "neutral"): (
        "I spoke to support once about a billing question.",
        "The agent answered my question but it took a while.",
        "Customer service was polite, if a bit scripted.",
        "I had to explain my issue twice before it was passed on.",
    ),
    ("app_website", "positive"): (
        "The app is easy to use and checkout takes seconds.",
        "Finding the right size on the website was simple.",
        "Search actually finds what I am looking for.",
        "Love the wishlist feature in the app.",
        "The website is clean and fast.",
    ),
    ("app_website", "negative"): (
        "The app crashed twice during checkout.",
        "The website kept emptying my cart.",
        "Search results are a mess and the filters do not work.",
        "I could not log in for a whole day.",
        "Payment failed three times before it went through.",
    ),
    ("app_website", "neutral"): (
        "The app works, though it feels a bit slow.",
        "The website layout changed recently and takes getting used to.",
        "Checkout has a few more steps than it needs.",
        "I mostly browse on the website and order in the app.",
    ),
    ("returns", "positive"): (
        "Returning the item was easy and the refund came quickly.",
        "The free return label made sending it back painless.",
        "I swapped the size in store with no questions asked.",
        "Refund was on my card within three days.",
    ),
    ("returns", "negative"): (
        "The return took weeks to be processed.",
        "They charged me for the return even though the item was faulty.",
        "I am still waiting for my refund a month later.",
        "The returns portal would not accept my order number.",
    ),
    ("returns", "neutral"): (
        "I sent one item back and kept the rest.",
        "The return process is standard, print a label and drop it off.",
        "The refund took about a week.",
        "Returned it because it did not fit.",
    ),
}

DETAIL: dict[str, dict[str, tuple[str, ...]]] = {
    "positive": {
        "delivery": ("Will order again for sure.", "The tracking updates were handy."),
        "product_quality": ("Already ordered a second one.", "My partner wants one too."),
        "price_value": ("Keep the promotions coming.", "Hard to beat."),
        "customer_service": ("Thanks to the agent who helped me.", "That is how it should be."),
        "app_website": ("Smooth from start to finish.", "Saved my card so next time is quicker."),
        "returns": ("Made me trust the shop more.", "No hassle at all."),
    },
    "negative": {
        "delivery": ("It was meant to be a birthday present.", "This is the second time."),
        "product_quality": ("Really disappointed.", "I expected better from this brand."),
        "price_value": ("I will compare prices next time.", "Feels like a rip-off."),
        "customer_service": ("I am thinking of cancelling my account.", "Very frustrating."),
        "app_website": ("Please fix the app.", "I almost gave up."),
        "returns": ("Never again.", "Still no answer from support about it."),
    },
    "neutral": {
        "delivery": ("It was okay.", "No complaints, no praise."),
        "product_quality": ("We will see how it holds up.", "Does what it says."),
        "price_value": ("Okay for the price.", "Might look around next time."),
        "customer_service": ("Fine overall.", "Got an answer eventually."),
        "app_website": ("Could be better.", "Gets the job done."),
        "returns": ("Fine.", "As expected."),
    },
}

OPENERS: dict[str, tuple[str, ...]] = {
    "positive": ("Really happy!", "Five stars from me.", "So pleased.", "Honestly impressed.",
                 "Great experience overall.", "Pleasantly surprised."),
    "negative": ("Not happy.", "Very disappointed.", "Terrible experience.", "What a letdown.",
                 "Frustrating.", "Not what I hoped for."),
    "neutral": ("Mixed feelings.", "It was okay.", "Average experience.", "Nothing special.",
                "Hard to say.", "So-so."),
}  # fmt: skip

CLOSERS: dict[str, tuple[str, ...]] = {
    "positive": ("Thanks, {brand} team!", "Highly recommend.", "I will be back.",
                 "Keep it up.", "Already telling my friends."),
    "negative": ("Please do better.", "I expect a response.", "Would not recommend.",
                 "Thinking of shopping elsewhere.", "Fix this, please."),
    "neutral": ("We will see next time.", "Hope that helps.", "Just my two cents.",
                "Maybe I will try again.", "That is all."),
}  # fmt: skip

SOCIAL_OPENERS: dict[str, tuple[str, ...]] = {
    "positive": ("Shoutout to {brand}!", "Big fan of {brand}.", "{brand} got it right again.",
                 "Can recommend {brand}."),
    "negative": ("Come on {brand}...", "{brand}, seriously?", "Avoid {brand} for now.",
                 "Done with {brand}."),
    "neutral": ("Anyone tried {brand}?", "Ordered from {brand} this week.",
                "Thoughts on {brand}?", "Trying {brand} for the first time."),
}  # fmt: skip


def compose(
    rng: np.random.Generator,
    theme: np.ndarray,
    sentiment: np.ndarray,
    *,
    social_brand: np.ndarray | None = None,
    brands: tuple[str, ...] = ("Northwind",),
) -> pa.Array:
    """Texts for rows of (`theme`, `sentiment`) codes; social posts name their brand.

    Reviews and survey verbatims are about our brand, `brands[0]`; a social post is about
    `brands[social_brand]`.

    Loops over the 18 theme-sentiment cells (never over rows); inside a cell every fragment
    is picked by index and the parts are joined column-wise.
    """
    n = len(theme)
    out = pa.nulls(n, pa.string())
    position = np.arange(n)
    cells: list[pa.Array] = []
    order: list[np.ndarray] = []
    for ti, th in enumerate(THEMES):
        for si, se in enumerate(SENTIMENTS):
            rows = position[(theme == ti) & (sentiment == si)]
            if not len(rows):
                continue
            m = len(rows)
            core = bank(CORE[(th, se)], rng.integers(0, len(CORE[(th, se)]), m))
            detail = DETAIL[se][th]
            extra = bank(("", *(" " + d for d in detail)), _optional(rng, m, len(detail), 0.4))
            closers = CLOSERS[se]
            close = bank(("", *(" " + c for c in closers)), _optional(rng, m, len(closers), 0.3))
            if social_brand is None:
                openers = OPENERS[se]
                lead = bank(("", *(o + " " for o in openers)), _optional(rng, m, len(openers), 0.4))
                brand = np.zeros(m, dtype=np.int64)
            else:
                lead = bank(tuple(o + " " for o in SOCIAL_OPENERS[se]), rng.integers(0, 4, m))
                brand = social_brand[rows]
            cells.append(_with_brand(join(lead, core, extra, close), brand, brands))
            order.append(rows)
    if not cells:
        return out
    texts = pa.concat_arrays(cells)
    back = np.empty(n, dtype=np.int64)
    back[np.concatenate(order)] = np.arange(n)
    return texts.take(pa.array(back))


def _optional(rng: np.random.Generator, n: int, choices: int, share: float) -> np.ndarray:
    """0 (no fragment) or 1..choices, the fragment used with chance `share`."""
    pick = 1 + rng.integers(0, choices, n)
    return np.where(rng.random(n) < share, pick, 0)


def _with_brand(lead: pa.Array, brand: np.ndarray, brands: tuple[str, ...]) -> pa.Array:
    """Put each row's brand name where a fragment says `{brand}`."""
    out = lead
    for code, name in enumerate(brands):
        named = pc.replace_substring(lead, "{brand}", name)
        out = pc.if_else(pa.array(brand == code), named, out)
    return out
