"""The advocacy program (issue 10): advocates, the ladder of asks, rewards, referrals, fraud.

Advocates are made, not found by counting likes: the program identifies the customers who
already advocate (an explainable score from intentional acts and their reach) and those who
could (promoters of high value who have not acted yet), asks them gradually (a survey, then a
review, a story, a referral, a reference), rewards completed acts promptly through the loyalty
ledger, and pays referrals only after a holding period and fraud checks. See docs/advocacy.md.

The stable library surface for other programs (cases and triggers use `issue_ask`):

- `issue_ask(store, ws, profile_key, ask, *, source, at) -> AskDecision`
- `advocate_facts(ws, profile_id, *, at) -> AdvocateFacts`
- `profile_score(ws, profile_id, settings) -> dict` (the score, its parts and level)
"""

from __future__ import annotations

from cxloop.programs.advocacy.asks import decide_ask, issue_ask, record_completion
from cxloop.programs.advocacy.facts import advocate_facts
from cxloop.programs.advocacy.models import AdvocateFacts, AskDecision, RewardOutcome
from cxloop.programs.advocacy.scores import profile_score

__all__ = [
    "AdvocateFacts",
    "AskDecision",
    "RewardOutcome",
    "advocate_facts",
    "decide_ask",
    "issue_ask",
    "profile_score",
    "record_completion",
]
