"""The indicators on one award or one notice, with their evidence, for the pages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.models import Q

from explorer.indicators import INDICATORS
from explorer.models import Award, IndicatorResult, Notice


@dataclass(frozen=True)
class Shown:
    code: str
    label: str
    explanation: str
    source: str
    scope: str
    evidence: dict[str, Any]
    award_id: int | None

    @property
    def evidence_items(self) -> list[tuple[str, Any]]:
        return [(key.replace("_", " "), value) for key, value in self.evidence.items()]


def _shown(results: Any) -> list[Shown]:
    order = {code: i for i, code in enumerate(INDICATORS)}
    rows = sorted(results, key=lambda r: (order.get(r.code, 99), r.award_id or 0))
    return [
        Shown(
            code=r.code,
            label=INDICATORS[r.code].label,
            explanation=INDICATORS[r.code].explanation,
            source=INDICATORS[r.code].source,
            scope=r.scope,
            evidence=r.evidence,
            award_id=r.award_id,
        )
        for r in rows
        if r.code in INDICATORS
    ]


def for_award(award: Award) -> list[Shown]:
    """Its own results, its process's and its supplier's."""
    condition = Q(award_id=award.id) | Q(scope="process", notice_id=award.notice_id)
    if award.supplier_id:
        condition |= Q(scope="supplier", supplier_id=award.supplier_id)
    return _shown(IndicatorResult.objects.filter(condition)[:100])


def for_notice(notice: Notice) -> list[Shown]:
    """The process's results and its awards'."""
    return _shown(IndicatorResult.objects.filter(notice_id=notice.id)[:200])
