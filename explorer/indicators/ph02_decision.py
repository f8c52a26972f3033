"""PH02 decision period: Closing Date to Award Date."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from explorer.indicators.base import NOT_CANCELLED, Scope, SelectIndicator


class DecisionPeriod(SelectIndicator):
    code = "PH02"
    label = "Short or negative decision period"
    explanation = (
        "Fewer days from the notice's Closing Date to the Award Date than the threshold; a negative "
        "period (award before closing) is a data-quality flag."
    )
    source = (
        "DIGIWHIST/opentender decision period; RA 9184 IRR Sec. 32-37 (evaluation, post-qualification, award)"
    )
    scope = "award"

    def settings(self) -> dict[str, Any]:
        return {"INDICATOR_DECISION_MIN_DAYS": settings.INDICATOR_DECISION_MIN_DAYS}

    def select(self, scope: Scope) -> tuple[str, list[Any]]:
        sql = (
            "SELECT a.notice_id, a.id AS award_id, a.organization_id, a.supplier_id, 1.0::float AS value, "
            "jsonb_build_object('closing', n.closing_date, 'awarded', a.award_date, "
            "'days', a.award_date - n.closing_date, 'threshold', %s::int, "
            "'negative', a.award_date < n.closing_date) AS evidence "
            "FROM explorer_award a JOIN explorer_notice n ON n.id = a.notice_id "
            f"WHERE {scope.on('a.notice_id')} AND n.closing_date IS NOT NULL AND a.award_date IS NOT NULL "
            f"AND {NOT_CANCELLED.format(column='a.status')} AND {NOT_CANCELLED.format(column='n.status')} "
            "AND a.award_date - n.closing_date < %s"
        )
        days = settings.INDICATOR_DECISION_MIN_DAYS
        return sql, [days, days]
