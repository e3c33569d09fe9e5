"""A documented example of `architecture.toml`, written by `cxloop architecture WS --example`
and by `cxloop demo` (it fits the demo's touchpoint catalogue; edit it for yours)."""

from __future__ import annotations

from pathlib import Path

from cxloop.errors import CxloopError
from cxloop.experience.architecture import ARCHITECTURE_FILE

EXAMPLE = """\
# The customer-experience architecture of this workspace (docs/architecture.md).
#
# One [[moments]] table per journey moment: a touchpoint of the catalogue (`cxloop journey`
# lists them) or a named group of touchpoints. For each moment: who owns it, the systems and
# the data behind it, and the experiences, stories and services offered to each persona, with
# the customer outcome each one seeks and the level of value it aims at:
#   functional = it works (saves time, saves money, gets the job done);
#   personal   = it makes the customer feel recognised, confident, cared for;
#   catalytic  = it helps the customer reach a bigger goal of their own.
# `cxloop architecture WS` joins this file with the data (reach, effectiveness, pivotal-moment
# effect, NPS per moment) and flags gaps: pivotal moments with no experience planned,
# experiences with no measurement, moments with no owner.

version = 1

[[moments]]
name = "first_purchase"                       # your name for the moment (unique)
label = "Choosing and buying"
touchpoints = ["product_view", "search", "add_to_cart", "checkout"]
owner = "ecommerce"                           # the team that answers for it
systems = ["web shop", "search engine", "payment gateway"]
data = ["events: product_view, search, add_to_cart, checkout", "orders"]

  [[moments.experiences]]
  name = "Size and fit advisor"
  kind = "service"                            # experience, story or service
  persona = "all"                             # a persona's name, or "all"
  outcome = "buy the right thing the first time"
  value_level = "functional"
  measured_by = ["success", "repurchase"]     # nps, csat, ces, rating, success, repurchase,
                                              # referral, content
  [[moments.experiences]]
  name = "Savings calculator"
  kind = "story"
  persona = "deal_seeker"
  outcome = "save money"
  value_level = "functional"
  measured_by = ["content"]
  content = ["C003"]                          # content asset ids (`cxloop content WS list`)

[[moments]]
name = "delivery"
label = "The parcel arrives"
touchpoints = ["delivery"]
owner = "logistics"
systems = ["warehouse management", "carrier tracking API"]
data = ["events: delivery (late_days)", "feedback: delivery surveys"]

  [[moments.experiences]]
  name = "Live parcel tracking"
  kind = "service"
  outcome = "save time: know when it arrives"
  value_level = "functional"
  measured_by = ["csat", "nps"]

[[moments]]
name = "getting_started"
label = "Getting started after the first order"
touchpoints = ["onboarding"]
owner = "product"
systems = ["e-mail platform", "help centre"]
data = ["events: onboarding", "feedback: onboarding survey"]

  [[moments.experiences]]
  name = "Getting-started video"
  kind = "story"
  outcome = "reach a goal: use the product well from day one"
  value_level = "catalytic"
  measured_by = ["nps", "content"]            # the onboarding survey (NPS about onboarding)
  content = ["C001"]

  [[moments.experiences]]
  name = "Care and repair guide"
  kind = "story"
  persona = "premium_loyalist"
  outcome = "feel confident the purchase lasts"
  value_level = "personal"
  measured_by = ["content"]
  content = ["C002"]

[[moments]]
name = "getting_help"
label = "Getting help"
touchpoints = ["support_contact", "chat"]
# no owner yet: `cxloop architecture` flags it
systems = ["contact centre", "chat tool", "CRM"]
data = ["events: support_contact, chat (resolved)", "feedback: support CES and CSAT"]

  [[moments.experiences]]
  name = "First-contact resolution"
  kind = "service"
  outcome = "save time: one contact solves it"
  value_level = "functional"
  measured_by = ["ces", "success"]

[[moments]]
name = "sharing"
label = "Recommending us"
touchpoints = ["review", "referral", "social_share"]
owner = "marketing"
systems = ["reviews platform", "referral program"]
data = ["feedback: public ratings", "referrals", "mentions"]

  [[moments.experiences]]
  name = "Review showcase"
  kind = "story"
  outcome = "be recognised for helping others choose"
  value_level = "personal"
  measured_by = ["referral", "content"]
  content = ["C004"]
"""


def write_example(workspace: Path, *, replace: bool = False) -> Path:
    """Write the example as `WS/architecture.toml`; refuse to overwrite unless `replace`."""
    path = Path(workspace) / ARCHITECTURE_FILE
    if path.exists() and not replace:
        raise CxloopError(f"{path} exists; not overwritten (move it away to get the example)")
    path.write_text(EXAMPLE, encoding="utf-8")
    return path
