"""Why a session ended, as one of a fixed set of metric labels.

Session end reasons are text written for people (and some are the LLM's own words, from the
end-call tool), so they cannot be labels as they are: this maps each to a short name, and
anything unforeseen to `other`, which keeps the label's cardinality fixed.
"""

from __future__ import annotations

# (prefix of the reason text, label): the first match wins.
_PREFIXES: tuple[tuple[str, str], ...] = (
    ("client left", "client_left"),
    ("ended by client", "ended_by_client"),
    ("ended by an admin message", "admin_end"),
    ("maximum session duration reached", "max_duration"),
    ("idle:", "idle"),
    ("lease lost", "lease_lost"),
    ("no webrtc offer arrived", "no_offer"),
    ("invalid session options", "invalid_options"),
    ("bot crashed", "crashed"),
    ("a daily session needs", "invalid_options"),
    ("no capacity", "no_capacity"),
    ("runner lost", "runner_lost"),
    # claim refusals (duplicates)
    ("running here", "running_here"),
    ("missing", "missing"),
    ("final", "already_final"),
    ("held", "held_elsewhere"),
    ("room-busy", "room_busy"),
)

LABELS = frozenset({label for _, label in _PREFIXES} | {"other"})


def reason_label(reason: str | None) -> str:
    """The label for a session's end reason (a transport's own error text is `other`)."""
    text = (reason or "").strip().lower()
    for prefix, label in _PREFIXES:
        if text.startswith(prefix):
            return label
    return "other"
