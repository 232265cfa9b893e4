"""The values the scoring core takes and gives: frozen, slotted dataclasses with no behaviour beyond
rendering and (de)serialising themselves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from connector.core.values import instant_text

MINUS = "\u2212"  # a real minus sign reads better than a hyphen in "Student −30"


@dataclass(frozen=True, slots=True)
class Contact:
    """A HubSpot contact as read: its id and property values as the strings HubSpot sends."""

    id: str
    properties: Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class Reason:
    """One contribution to a score: which rule, the marketer's label, and its points."""

    rule: str
    label: str
    points: int
    hand_raise: bool = False
    # Rendered and ranked once at construction: reasons are shown for every contact of every sync.
    text: str = field(default="", init=False, compare=False, repr=False)
    rank: tuple[int, str] = field(default=(0, ""), init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.hand_raise:
            text = f"{self.label} (hand-raise: MQL whatever the score)"
        else:
            text = f"{self.label} {'+' if self.points >= 0 else MINUS}{abs(self.points)}"
        object.__setattr__(self, "text", text)
        object.__setattr__(self, "rank", (-abs(self.points), self.rule))  # biggest first

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True, slots=True)
class Score:
    """A contact's score: fit + engagement = total (after caps, floor 0), grade and reasons.

    `reasons` are ranked: the hand-raise first, then rules by absolute points, biggest first (ties
    by rule name), then the caps that cut the sums. `path` says how the contact became an MQL:
    "score", "hand_raise", "manual", or "none" when it is not one.
    """

    fit: int
    engagement: int
    total: int
    grade: str
    reasons: tuple[Reason, ...]
    path: str = "none"


@dataclass(frozen=True, slots=True)
class Decision:
    """What the status policy decided: the values to set (None = leave as is) and why.

    `action` is one of "qualify", "recycle", "keep" (nothing to change) or "leave" (the contact is
    not the connector's to move: sales owns it, or a person set its status). `path` is how the
    contact became an MQL ("score", "hand_raise", "manual"; "none" when it is not one), and
    `qualified` whether it meets the MQL definition now (score with hysteresis, or hand-raise).
    """

    action: str
    why: str
    lead_status: str | None = None
    lifecycle_stage: str | None = None
    path: str = "none"
    qualified: bool = False


@dataclass(frozen=True, slots=True)
class History:
    """Per-contact state kept by the store between runs (see `to_json` for the stored shape).

    - `at`: when the contact was last evaluated (epoch seconds); decayed units are as of `at`.
    - `rollups`: per count rule, (name, count last seen, decayed units as of `at`). Exponential
      decay is memoryless, so one number carries every dated increase exactly: no event list.
    - `status_written` / `stage_written`: the hs_lead_status / lifecyclestage the connector last
      wrote (None: never), and `written_at` when. A current value that differs was set by a person.
    - `mql_at`: when the connector last made the contact an MQL; `path`: how it became one.
    - `recycles`: how many times it was sent back to nurture.
    - `hand_raise_used`: the hand-raise the connector already acted on (or saw while the contact
      was not its to move), so the same old form submission never qualifies the contact again.
    """

    at: float | None = None
    rollups: tuple[tuple[str, float, float], ...] = ()
    status_written: str | None = None
    stage_written: str | None = None
    written_at: float | None = None
    mql_at: float | None = None
    path: str = "none"
    recycles: int = 0
    hand_raise_used: str | None = None

    @classmethod
    def empty(cls) -> History:
        """The state of a contact the connector has never seen."""
        return _EMPTY

    def to_json(self) -> dict[str, Any]:
        """A compact JSON-able dict: short keys, defaults left out (the store keeps one per
        contact)."""
        out: dict[str, Any] = {}
        for key, name in _KEYS:
            value = getattr(self, name)
            if value != _DEFAULTS[name]:
                out[key] = [list(r) for r in value] if name == "rollups" else value
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> History:
        """The History that `to_json` produced; missing keys take their defaults, unknown ones
        (e.g. "t", the last total that older versions stored) are ignored."""
        if not data:
            return _EMPTY
        kwargs = {name: data[key] for key, name in _KEYS if key in data}
        if "rollups" in kwargs:
            kwargs["rollups"] = tuple((str(n), float(c), float(u)) for n, c, u in kwargs["rollups"])
        used = kwargs.get("hand_raise_used")
        if used:  # older versions kept the date as HubSpot sent it (ISO or ms epoch): normalise
            head, bar, stamp = used.rpartition("|")
            if bar and stamp:
                kwargs["hand_raise_used"] = f"{head}|{instant_text(stamp)}"
        return cls(**kwargs)


_EMPTY = History()
_KEYS = (("at", "at"), ("r", "rollups"), ("s", "status_written"), ("l", "stage_written"),
         ("w", "written_at"), ("m", "mql_at"), ("p", "path"), ("n", "recycles"),
         ("h", "hand_raise_used"))
_DEFAULTS = {name: getattr(_EMPTY, name) for _, name in _KEYS}


@dataclass(frozen=True, slots=True)
class Evaluation:
    """Everything the sync needs for one contact: the score, the decision, the property values to
    write (only those that differ from HubSpot's), and the history to persist."""

    score: Score
    decision: Decision
    changes: dict[str, str] = field(default_factory=dict)
    history: History = _EMPTY
    # The hand-raise that fired, named so that very form submission or meeting is recognised
    # again (scoring.ScoreCard.hand_raise_key); None when none fired.
    hand_raise_key: str | None = None


# HubSpot's default lifecycle stages in order (knowledge.hubspot.com "Use lifecycle stages").
# "other" and custom stages (numeric ids) have no place in the order: the connector never moves
# them.
LIFECYCLE_ORDER = ("subscriber", "lead", "marketingqualifiedlead", "salesqualifiedlead",
                   "opportunity", "customer", "evangelist")
LIFECYCLE_RANK = {stage: rank for rank, stage in enumerate(LIFECYCLE_ORDER)}
