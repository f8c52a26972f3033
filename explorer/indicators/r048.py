"""R048 heterogeneous supplier (Cardinal's definition, per supplier)."""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings

from explorer.indicators.base import NOT_CANCELLED, Indicator, Scope


def quantile_r8(values: list[float], p: float) -> float:
    """The p-quantile by Hyndman and Fan's rule 8 (median-unbiased), as Cardinal uses:
    h = (n + 1/3) p + 1/3 on the sorted values x[1..n], linearly interpolated."""
    xs = sorted(values)
    n = len(xs)
    h = (n + 1 / 3) * p + 1 / 3
    if h <= 1:
        return float(xs[0])
    if h >= n:
        return float(xs[-1])
    low = math.floor(h)
    return float(xs[low - 1] + (h - low) * (xs[low] - xs[low - 1]))


# Awards with one supplier: no other award of the same notice and award number names
# another supplier (PhilGEPS lists a shared award once per awardee).
SINGLE_SUPPLIER = (
    "NOT EXISTS (SELECT 1 FROM explorer_award o WHERE o.notice_id = a.notice_id "
    "AND a.award_number <> '' AND o.award_number = a.award_number AND "
    "o.supplier_id IS DISTINCT FROM a.supplier_id)"
)


class HeterogeneousSupplier(Indicator):
    code = "R048"
    label = "Heterogeneous supplier"
    explanation = (
        "A supplier whose single-supplier awards span unusually many UNSPSC segments (2-digit "
        "codes): at or above Q3 + 1.5 IQR among suppliers with enough processes."
    )
    source = "Cardinal R048"
    scope = "supplier"
    always_full = True  # the fence is over all suppliers

    def settings(self) -> dict[str, Any]:
        return {"INDICATOR_R048_MIN_PROCESSES": settings.INDICATOR_R048_MIN_PROCESSES}

    def insert(self, cursor: Any, scope: Scope) -> dict[str, Any]:
        cursor.execute(
            "SELECT a.supplier_id, count(DISTINCT a.notice_id), "
            "count(DISTINCT left(a.unspsc_code, 2)) FILTER (WHERE a.unspsc_code ~ '^[0-9]{2}') "
            "FROM explorer_award a JOIN explorer_notice n ON n.id = a.notice_id "
            f"WHERE a.supplier_id IS NOT NULL AND {NOT_CANCELLED.format(column='a.status')} "
            f"AND {NOT_CANCELLED.format(column='n.status')} AND {SINGLE_SUPPLIER} "
            # A supplier without any UNSPSC code has no segments to count: not compared.
            "GROUP BY a.supplier_id HAVING count(DISTINCT a.notice_id) >= %s "
            "AND count(*) FILTER (WHERE a.unspsc_code ~ '^[0-9]{2}') > 0",
            [settings.INDICATOR_R048_MIN_PROCESSES],
        )
        rows = cursor.fetchall()
        if not rows:
            return {"suppliers": 0}
        segments = [float(n) for _, _, n in rows]
        q1, q3 = quantile_r8(segments, 0.25), quantile_r8(segments, 0.75)
        fence = q3 + 1.5 * (q3 - q1)
        meta = {"q1": q1, "q3": q3, "upper_fence": fence, "suppliers": len(rows)}
        flagged = [
            (
                supplier,
                float(n),
                json.dumps({"segments": n, "processes": processes, **meta}),
            )
            for supplier, processes, n in rows
            if n >= fence
        ]
        if flagged:
            cursor.executemany(
                "INSERT INTO explorer_indicatorresult (code, scope, "
                "supplier_id, value, evidence, computed_at) "
                "VALUES (%s, %s, %s, %s, %s::jsonb, now())",
                [(self.code, self.scope, *row) for row in flagged],
            )
        return meta
