"""PhilGEPS procurement modes mapped to OCDS procurementMethod (REFERENCE.md section 7).

`open`: Public Bidding, International Competitive Bidding; `selective`: Limited Source
Bidding, Competitive Dialogue; `limited`: Shopping, Small Value, Two Failed Biddings,
Emergency, Take-over, Community, NGO, UN agencies; `direct`: Direct Contracting, Repeat
Order, Agency to Agency, Lease, Defense, Highly Technical, Scientific, Direct Retail
Purchase, Renewal, Adjacent. The non-competitive modes of the report are `limited` and
`direct`. The same patterns serve Python (`method`, `noncompetitive_modes`) and the search filter
(`method_q`), so a figure and the search behind it count the same awards.
"""

from __future__ import annotations

import re

from django.db.models import Q, QuerySet

from explorer.models import Award

# Checked in this order: the first that matches wins (case-insensitive, PostgreSQL ~*).
PATTERNS: tuple[tuple[str, str], ...] = (
    ("open", r"public bidding|international competitive bidding"),
    ("selective", r"limited source|competitive dialogue"),
    (
        "direct",
        r"direct contracting|repeat order|agency to agency|lease|defen[cs]e|highly technical|"
        r"scientific|direct retail|renewal|adjacent|contiguous",
    ),
    (
        "limited",
        r"shopping|small value|two failed|emergency|take-?over|community|ngo participation|"
        r"non-governmental|united nations|un agenc",
    ),
)
METHODS = tuple(name for name, _ in PATTERNS)
NONCOMPETITIVE = ("limited", "direct")
CHOICES = [
    ("", "Any"),
    ("open", "Open (public bidding)"),
    ("selective", "Selective (limited source)"),
    ("limited", "Limited (shopping, small value, negotiated)"),
    ("direct", "Direct (direct contracting, repeat order, ...)"),
    ("noncompetitive", "Non-competitive (limited or direct)"),
]
_COMPILED = tuple((name, re.compile(pattern, re.IGNORECASE)) for name, pattern in PATTERNS)


def method(mode: str) -> str:
    """The OCDS procurementMethod of a PhilGEPS mode ("" when none fits)."""
    for name, pattern in _COMPILED:
        if pattern.search(mode or ""):
            return name
    return ""


def _is(name: str, field: str) -> Q:
    q = Q(**{f"{field}__iregex": dict(PATTERNS)[name]})
    for earlier, pattern in PATTERNS:
        if earlier == name:
            return q
        q &= ~Q(**{f"{field}__iregex": pattern})
    return q


def method_q(choice: str, field: str = "procurement_mode") -> Q:
    """Awards whose mode maps to `choice` (a METHODS name or "noncompetitive")."""
    if choice == "noncompetitive":
        return _is("limited", field) | _is("direct", field)
    return _is(choice, field)


def noncompetitive_modes(awards: QuerySet[Award]) -> list[str]:
    """The distinct modes of these awards that are limited or direct (a few dozen: the
    classification runs in Python once per mode, the SQL compares with the list)."""
    distinct = awards.order_by().values_list("procurement_mode", flat=True).distinct()
    return sorted(mode for mode in distinct if method(mode) in NONCOMPETITIVE)
