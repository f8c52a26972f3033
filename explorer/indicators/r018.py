"""R018 single bid (Cardinal's definition, on the "List of Bidder's" of S3 files)."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from explorer.indicators.base import NOT_CANCELLED, Scope, SelectIndicator, competitive


class SingleBid(SelectIndicator):
    code = "R018"
    label = "Single bid"
    explanation = "An open or selective notice whose list of bidders names exactly one bidder."
    source = "Cardinal R018; DIGIWHIST/opentender single bidder"
    scope = "process"

    def settings(self) -> dict[str, Any]:
        return {"INDICATOR_COMPETITIVE_MODES": settings.INDICATOR_COMPETITIVE_MODES}

    def select(self, scope: Scope) -> tuple[str, list[Any]]:
        mode, params = competitive("n.procurement_mode")
        # The importer stores the bidders one per line, without blank lines.
        sql = (
            "SELECT n.id AS notice_id, NULL::bigint AS award_id, n.organization_id, "
            "NULL::bigint AS supplier_id, 1.0::float AS value, "
            "jsonb_build_object('bidders', 1, 'bidder', n.bidders, 'mode', n.procurement_mode) AS evidence "
            f"FROM explorer_notice n WHERE {scope.on('n.id')} AND {mode} "
            f"AND {NOT_CANCELLED.format(column='n.status')} "
            "AND n.bidders <> '' AND strpos(n.bidders, E'\\n') = 0"
        )
        return sql, params
