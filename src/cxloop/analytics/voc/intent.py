"""Advocacy intent of a mention: does its author try to move other people, and which way?

Share of voice counts every mention alike, but a "like" and a heartfelt "you have to try them"
are not the same act. Following the advocacy literature, a mention is

- `genuine`: the author means to change other people's attitudes or actions (recommends,
  urges, endorses: "highly recommend", "you should try", "go get yours", "worth every penny");
- `amplification`: the author passes something on without words of their own (a like, a
  share or repost with no comment, a bare link, hashtags or emoji);
- `complaint`: a grievance or a warning to others ("avoid", "never again", "do not buy",
  "would not recommend", a refund demand) or, failing explicit markers, a negative tone;
- `neutral`: everything else, including praise that does not address anyone ("love it").

The rules are word-bounded, case-insensitive regular expressions over the author's own words,
plus the text's sentiment score (VADER compound, computed elsewhere). They are ordered so that
explicit wording beats the sentiment score, which misses negation of advocacy ("can't
recommend" is a warning, "can't recommend enough" is praise) and most sarcasm. docs/voc.md
lists the rules and their measured precision and recall.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

INTENTS: tuple[str, ...] = ("genuine", "amplification", "complaint", "neutral")

NEGATIVE_THRESHOLD = -0.05
"""VADER's conventional cut-off: a compound score at or below it is a negative text."""

SHORT_REACTION_WORDS = 3
"""A share whose comment is this short and carries no marker ("so true!") only passes the
shared content on: it is amplification, not a message of its own."""

_NO_WORDS_KINDS = frozenset({"like"})
"""Kinds that never carry the author's own words (a like row's text, if any, is the liked
post's)."""
_PASS_ON_KINDS = frozenset({"like", "share"})

# -- normalisation ---------------------------------------------------------------------------

_QUOTES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "`": "'"})
_NOT = re.compile(
    r"\b(?:(ca|wo|do|does|did|would|could|should|is|are|was|were|has|have|had|must|need|ai)"
    r"n'?t|cannot)\b"
)
_NOT_EXPANSION = {"ca": "can", "wo": "will", "ai": "is"}
_URL = re.compile(r"(?:https?://|www\.)\S+")
_HANDLE = re.compile(r"@\w+")
_HASHTAG = re.compile(r"#(\w+)")
_RETWEET = re.compile(r"\b(?:rt|mt)\s*@\w+\s*:?")
"""A classic retweet, "RT @user: their words": what follows the marker is someone else's.
A bare "RT" is only a marker; "RT if you agree" is the author asking for retweets."""
_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_REPOST_WORDS = frozenset((
    "rt", "mt", "qt", "repost", "reposting", "reposted", "regram", "share", "sharing", "shared",
    "via", "cc", "ht", "h", "t", "this", "here", "fyi", "bump",
))  # fmt: skip
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")


def _expand_not(match: re.Match[str]) -> str:
    stem = match.group(1)
    if stem is None:  # cannot
        return "can not"
    return f"{_NOT_EXPANSION.get(stem, stem)} not"


def _normalise(text: str) -> str:
    """Lower case, straight quotes, "n't" spelled "not" (with or without the apostrophe)."""
    out = _NOT.sub(_expand_not, text.lower().translate(_QUOTES))
    out = re.sub(r"\bi'd\b", "i would", out)
    out = re.sub(r"\b(you|we|they)'d\b", r"\1 would", out)
    out = re.sub(r"\b(i|you|we|they)'ll\b", r"\1 will", out)
    out = re.sub(r"\b(you|we|they)'re\b", r"\1 are", out)
    return re.sub(r"[ \t]+", " ", out)


def _own_text(text: str) -> str:
    """The author's own words: the part before a retweet marker, links and handles removed."""
    marker = _RETWEET.search(text)
    if marker is not None:
        text = text[: marker.start()]
    return _HANDLE.sub(" ", _URL.sub(" ", text))


def _words(own: str) -> list[str]:
    """Word tokens that are not hashtags nor repost markers ("sharing this", "via")."""
    plain = _HASHTAG.sub(" ", own).replace("h/t", " ")
    return [w for w in _WORD.findall(plain) if w not in _REPOST_WORDS]


# -- markers ---------------------------------------------------------------------------------

_ADV = r"(?:really|totally|definitely|absolutely|seriously|honestly|just|all|so|def|defo|100%)"
_WIN = r"(?:\s+(?!but\b)[a-z0-9']+){0,3}?"
"""Up to three more words of the same clause (punctuation and "but" end a clause)."""
_WIN_NEG = r"(?:\s+(?!but\b|hesitate\b)[a-z0-9']+){0,3}?"
"""The same, for the words between a negation and "recommend" ("not hesitate to" is praise)."""
_NEG = r"\b(?:not|never|no|nobody|hardly)\b"


def _rx(*patterns: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in patterns))


# Warnings and grievances. Advice ("avoid", "do not buy") in a question is a question, not
# advice; grievances count wherever they are.
_WARNING = _rx(
    rf"{_NEG}{_WIN_NEG}\s+recommend(?:s|ed|ing)?\b(?!{_WIN}\s+(?:enough|more|highly enough)\b)",
    r"\brecommend(?:s|ed|ing)?\s+(?:avoiding|against|staying away|steering clear)\b",
    r"\bnot recommended\b",
    r"\b(?:stay|steer|keep|run)\s+(?:well\s+|far\s+)?(?:away|clear)\b",
    r"\bsave (?:your|ur) (?:money|cash|time)\b",
    r"\b(?<!\bi )(?<!\bwe )(?:do|should|must)\s+not\s+(?:ever\s+|even\s+)?"
    r"(?:buy|order|shop|purchase|bother|waste|trust|use|fall for|touch|go near)\b",
    r"(?:^|[,;:]\s*)never\s+(?:ever\s+)?(?:buy|order|shop|purchase|use|trust)\b",
    r"\b(?:no one|nobody)\s+should\b",
    rf"\bnot{_WIN}\s+(?:buy|buying|order|ordering|shop|shopping|purchase|purchasing|use|using"
    rf"|come|coming|go|going|be back)\b{_WIN}\s+again\b",
    r"\bnever\s+again\b",
    r"\bnot\s+(?:\w+\s+)?worth\b",
)
_AVOID = re.compile(r"\bavoid(?:ing)?\b")
_ADVISE = re.compile(r"\b(?:tell|telling|told|warn|warning|warned|advise|urge|urging|everyone|"
                     r"everybody|people|you|all|friends)\b")  # fmt: skip

_GRIEVANCE = _rx(
    r"\bworst\b",
    r"\bscam(?:s|med|mers?)?\b",
    r"\brip\s?-?\s?off\b",
    r"\bripped\s+(?:me\s+)?off\b",
    r"\bboycott\w*",
    r"\bfraud\w*",
    r"\bdisgrace\w*",
    r"\bunacceptable\b",
    r"\bshame on\b",
    r"\bwaste of (?:money|time|space)\b",
    r"\bwaste your (?:money|time)\b",
    r"\b(?:want|need|demand|demanding|give me|where is|where's|still waiting (?:for|on)|"
    r"asked for|asking for|no sign of|yet to (?:get|receive)|not (?:got|received|seen))\s+"
    r"(?:a |my |the |our )?(?:full )?(?:refund|money back)\b",
    r"\b(?:no|zero|never got (?:a|an|my)?|refused (?:a|to))\s*refund\b",
    r"\brefund me\b",
    r"\bwhere(?: is|'s| are) my\b",
    r"\bstill\s+(?:waiting|nothing|has not|have not)\b",
    r"\bstill\s+no\b(?!\s+(?:complaints?|issues?|problems?|regrets?)\b)",
    r"\bstill\s+not\s+(?:arrived|here|received|delivered|fixed|resolved|sorted|refunded"
    r"|working|heard|back)\b",
    r"\b(?:no|zero)\s+(?:repl(?:y|ies)|responses?|answers?|updates?|call ?backs?)\b",
    r"\bnever\s+(?:arrived|came|showed up|turned up|got back|replied|answered|called back)\b",
    r"\b(?:has|have|did)\s+not\s+(?:arrived|come|shown up|turned up|replied|answered)\b",
    r"\bcancel(?:l?ed|l?ing)?\s+(?:my|our|the)\s+"
    r"(?:order|account|subscription|membership|card)\b",
    r"\b(?:do better|fix (?:this|it|your)|sort (?:it|this|yourselves) out|get it together)\b",
    r"\bthanks for nothing\b",
    r"(?:^|\s)/s\b",
    r"\bsaid no one\b",
    r"\byeah,? right\b",
)
_COMPLAINT_TAGS = re.compile(
    r"^(?:boycott|neveragain|donotbuy|dontbuy|scam|fail|epicfail|worst|ripoff|avoid|notrecommended)"
)

_BUY = r"(?:try|get|buy|order|grab|give|go|shop|switch|use|download|pick|invest|treat)"
# Endorsements: positive by their wording, whatever the overall tone of the text.
_ENDORSE = _rx(
    r"\brecommend(?:s|ed|ing)?\b(?!\s+(?:to me\s+)?by\b)",
    r"\brecommendation\b",
    r"\bvouch\b",
    rf"\b(?:you|u|y'all|yall|everyone|everybody|people|you guys|you all|anyone)\s+(?:{_ADV}\s+)?"
    rf"(?:should|must|need to|needs to|have to|has to|gotta|got to|ought to)\s+(?:{_ADV}\s+)?"
    rf"{_BUY}\b",
    r"\bgo\s+(?:and\s+)?(?:get|buy|grab|try|order|shop)\b",
    r"^(?:just\s+|so\s+|seriously\s+|honestly\s+)?(?:buy|get|order|download|try|grab)\s+"
    r"(?:it|one|them|this|these|yours)\b",
    r"\b(?:get|grab|order|buy)\s+(?:yourself|yours)\b",
    r"\bgive\s+(?:them|it|this|these|\w+)\s+a\s+(?:try|go|shot)\b",
    r"\bworth\s+(?:every|each)\s+(?:penny|cent|dollar|pound|euro|buck)\b",
    r"\b(?:totally|so|100%|definitely|absolutely|well|really)\s+worth\s+it\b",
    rf"\b(?:would|will)\s+(?:{_ADV}\s+)?(?:buy|order|shop|purchase)\b{_WIN}\s+again\b",
    r"\bmust[- ]?(?:have|buy|try|get|own)\b",
    r"\ba must\b",
    r"\b(?:you|u)\s+(?:will|would)\s+not\s+(?:regret|be disappointed)\b",
    r"\bdo yourself a favou?r\b",
    r"\btreat yourself\b",
    r"\bthank me later\b",
    r"\bdo not (?:sleep on|miss out)\b",
    r"\b(?:make the switch|switch to)\b",
    r"\bnever looked back\b",
    r"\buse (?:my |the )?(?:code|link)\b",
    r"\breferral (?:code|link)\b",
    r"\bif (?:you|u)(?: are|'re| re)?\s+(?:need|want|looking|after|in the market)\b",
)
_ENDORSE_TAGS = re.compile(r"^(?:highlyrecommend|recommend|musthave|mustbuy|gogetit)")

# Calls for attention: positive advocacy only when the tone is not negative ("check out this
# thread about their awful support" points people at a grievance).
_DIRECT = _rx(
    r"\bcheck\s+(?:them|it|this|these|her|him|us|em|'em)\s+out\b",
    r"(?:^|[,;:\-]\s*|\b(?:go|must|should|definitely|gotta|please|pls)\s+)check\s+out\b",
    rf"\b(?:you|u|y'all|yall|everyone|everybody)\s+(?:{_ADV}\s+)?"
    r"(?:should|must|need to|have to|gotta|got to)\s+(?:see|check|look at|visit|know|hear|read)\b",
    r"\btell(?:ing)?\s+(?:all\s+)?(?:your|ur|my|everyone|everybody|the world|people|friends)\b",
    r"\bspread(?:ing)? the word\b",
    r"\bshout\s?-?outs?\b",
    r"\btrust me\b",
)

# Problems reported without a warning word: a complaint unless praise addressed to others
# says otherwise (those rules come first).
_PROBLEM = _rx(
    r"(?<!not )(?<!never )\b(?:arrived|came|delivered|turned up|showed up|running|days?|weeks?"
    r"|hours?)\s+late\b",
    r"\blate\s+(?:again|delivery|parcel|order|package)\b",
    r"(?<!not )(?<!no )(?<!nothing )(?<!never )\b(?:damaged|crushed|faulty|defective|smashed"
    r"|leaking|ripped|torn)\b",
    r"\b(?:broke|stopped working|fell apart|came apart|coming apart)\b",
    r"\b(?:lost|missing|wrong)\s+(?:my\s+)?(?:parcel|order|package|item|items|part|parts|size)\b",
    r"\bon hold for\b",
    r"\b(?:overcharged|charged (?:me )?twice|double charged)\b",
)


def _sentences(own: str) -> list[tuple[str, bool]]:
    """Sentences with whether each is a question (advice inside a question is not advice)."""
    out: list[tuple[str, bool]] = []
    for match in _SENTENCE.finditer(own):
        sentence = match.group(0).strip()
        if sentence:
            out.append((sentence, sentence.endswith("?")))
    return out


def _warns(sentence: str) -> bool:
    if _WARNING.search(sentence):
        return True
    for match in _AVOID.finditer(sentence):
        before = sentence[: match.start()].split()
        purpose = bool(before) and before[-1] in ("to", "help", "helps", "helped")
        if not purpose or _ADVISE.search(" ".join(before[-4:-1])):
            return True
    return False


def _endorses(sentence: str) -> bool:
    for match in _ENDORSE.finditer(sentence):
        # "would not hesitate to recommend" and "can not recommend them enough" are praise;
        # the warning rules have already claimed real negations, so a remaining
        # "recommend" is positive unless a negation sits right before it.
        before = sentence[: match.start()].split()[-3:]
        if not any(w in ("not", "never", "no") for w in before) or "hesitate" in before:
            return True
        if re.search(r"\b(?:enough|more|highly enough)\b", sentence[match.end() :]):
            return True
    return False


def _is_negative(sentiment: float | None) -> bool:
    if sentiment is None:
        return False
    score = float(sentiment)
    return not math.isnan(score) and score <= NEGATIVE_THRESHOLD


def _rule(text: str | None, kind: str | None, sentiment: float | None) -> tuple[str, str]:
    # Columns read from files may hold NaN for a missing text or kind: treat it as missing.
    kind_ = kind.strip().lower() if isinstance(kind, str) else ""
    if kind_ in _NO_WORDS_KINDS:
        return "amplification", "like"
    raw = _normalise(text if isinstance(text, str) else "")
    if not raw.strip():
        return ("amplification", "share without text") if kind_ in _PASS_ON_KINDS else (
            "neutral", "no text")  # fmt: skip
    own = _own_text(raw)
    words = _words(own)
    if not words:
        tags = _HASHTAG.findall(own)
        if any(_COMPLAINT_TAGS.match(t) for t in tags):
            return "complaint", "complaint hashtag"
        if any(_ENDORSE_TAGS.match(t) for t in tags):
            return "genuine", "endorsement hashtag"
        return "amplification", "no own words"

    sentences = _sentences(own)
    negative = _is_negative(sentiment)
    for sentence, question in sentences:
        if _GRIEVANCE.search(sentence):
            return "complaint", "grievance"
        if not question and _warns(sentence):
            return "complaint", "warning"
    statements = [s for s, question in sentences if not question]
    if any(_endorses(s) for s in statements):
        return "genuine", "endorsement"
    if not negative and any(_DIRECT.search(s) for s in statements):
        return "genuine", "call for attention"
    if any(_PROBLEM.search(s) for s, _ in sentences):
        return "complaint", "problem"
    if negative:
        return "complaint", "negative sentiment"
    if kind_ == "share" and len(words) <= SHORT_REACTION_WORDS:
        return "amplification", "short reaction to a share"
    return "neutral", "no marker"


def classify_intent(text: str | None, kind: str | None, sentiment: float | None) -> str:
    """The advocacy intent of one mention: one of INTENTS.

    `kind` is the mention kind (post, reply, review, share, like); `sentiment` the text's
    compound score in [-1, 1], or None when unscored (then only the wording decides).
    """
    return _rule(text, kind, sentiment)[0]


def explain_intent(text: str | None, kind: str | None, sentiment: float | None) -> tuple[str, str]:
    """The intent and the name of the rule that decided it, for audits of misclassifications."""
    return _rule(text, kind, sentiment)


def classify_intents(
    texts: Sequence[str | None],
    kinds: Sequence[str | None],
    sentiments: Sequence[float | None],
) -> list[str]:
    """`classify_intent` over aligned columns (e.g. a mentions table's text, kind, score)."""
    if not len(texts) == len(kinds) == len(sentiments):
        raise ValueError(
            f"texts, kinds and sentiments differ in length "
            f"({len(texts)}, {len(kinds)}, {len(sentiments)})"
        )
    return [classify_intent(t, k, s) for t, k, s in zip(texts, kinds, sentiments, strict=True)]
