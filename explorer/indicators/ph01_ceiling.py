"""PH01 price at the ceiling: the award against the notice's Approved Budget (ABC)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from explorer.indicators.base import NOT_CANCELLED, Scope, SelectIndicator, competitive


class PriceAtCeiling(SelectIndicator):
    code = "PH01"
    label = "Price at the ceiling"
    explanation = (
        "An award above the notice's Approved Budget of the Contract (its legal ceiling), or, in "
        "an open or selective mode, at 99 % of it or more."
    )
    source = (
        "RA 9184 Sec. 31 (the ABC is the ceiling); DIGIWHIST cost overrun; ProZorro winner near the estimate"
    )
    scope = "award"

    def settings(self) -> dict[str, Any]:
        return {
            "INDICATOR_CEILING_SHARE": settings.INDICATOR_CEILING_SHARE,
            "INDICATOR_COMPETITIVE_MODES": settings.INDICATOR_COMPETITIVE_MODES,
        }

    def select(self, scope: Scope) -> tuple[str, list[Any]]:
        mode, mode_params = competitive("n.procurement_mode")
        share = settings.INDICATOR_CEILING_SHARE
        sql = (
            "SELECT a.notice_id, a.id AS award_id, a.organization_id, a.supplier_id, 1.0::float AS value, "
            "jsonb_build_object('amount', a.amount, 'abc', n.approved_budget, "
            "'share', round(a.amount / n.approved_budget, 4), 'threshold', %s::float, "
            "'rule', CASE WHEN a.amount > n.approved_budget THEN 'above' ELSE 'at' END) AS evidence "
            "FROM explorer_award a JOIN explorer_notice n ON n.id = a.notice_id "
            f"WHERE {scope.on('a.notice_id')} AND n.approved_budget > 0 AND a.amount IS NOT NULL "
            f"AND {NOT_CANCELLED.format(column='a.status')} "
            f"AND (a.amount > n.approved_budget OR ({mode} AND a.amount >= %s * n.approved_budget))"
        )
        return sql, [share, *mode_params, share]
