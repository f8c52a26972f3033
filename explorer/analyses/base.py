"""The contract of a report analysis (see explorer/analyses/__init__.py).

Payloads are JSON-ready (they are stored as the report job's data and rendered later);
each analysis module types its own payload with a TypedDict.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypedDict

from django.db.models import QuerySet

from explorer.models import Award

Scope = Literal["selection", "organization", "supplier", "process"]
# search(**filters) -> the URL of the search page for the report's filters plus these.
SearchLink = Callable[..., str]


class Finding(TypedDict):
    """A deviation worth a look, with its evidence: never a verdict."""

    analysis: str
    scope: Scope
    name: str  # what it is about: the selection, an entity's name, a process
    statistic: str  # the measure in words, e.g. "MAD 0.031, chi-square 412"
    strength: float  # orders findings across analyses: larger is stronger evidence
    evidence: dict[str, Any]
    baseline: str  # what it deviates from, in words
    filters: dict[str, str]  # the search of its awards, on top of the report's filters


@dataclass(frozen=True)
class Sheet:
    """One sheet of the report's workbook (text cells are neutralised by the writer)."""

    title: str
    headers: list[str]
    rows: list[list[Any]]


class Analysis(ABC):
    name: str  # the key of its payload in the report
    label: str  # its step, as the job's progress shows it
    template: str = ""  # its section of the report page ("": none)
    flag_label: str = ""  # "first-digit": counted in the job's summary when it flags entities

    @abstractmethod
    def compute(self, awards: QuerySet[Award]) -> Any:
        """The payload, computed in the database over the report's awards."""

    def flagged(self, payload: Any) -> int:
        """How many entities it flagged (the job's summary shows it with flag_label)."""
        return 0

    def findings(self, payload: Any) -> list[Finding]:
        return []

    def sheets(self, payload: Any) -> list[Sheet]:
        return []

    def page(self, payload: Any, search: SearchLink) -> dict[str, Any]:
        """Its partial's context: the payload with a search link on every finding."""
        return {"data": payload}
