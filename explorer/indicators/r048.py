"""R048 heterogeneous supplier (Cardinal's definition, per supplier).

The per-supplier processes and segments are stored (supplier_stats.py), so an incremental
run updates them from the import's awards, computes the fence over the stored rows of
every supplier (a small table, no award read), and rewrites the results that differ: a
moved fence can flip suppliers anywhere, and changes every result's evidence."""

from __future__ import annotations

import json
import math
from typing import Any

from django.conf import settings

import explorer.indicators.supplier_stats as supplier_stats
from explorer.indicators.base import NEW_TABLE, Indicator, Scope, new_results, write_results


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


class HeterogeneousSupplier(Indicator):
    code = "R048"
    label = "Heterogeneous supplier"
    explanation = (
        "A supplier whose single-supplier awards span unusually many UNSPSC segments (2-digit "
        "codes): at or above Q3 + 1.5 IQR among suppliers with enough processes."
    )
    source = "Cardinal R048"
    scope = "supplier"

    def settings(self) -> dict[str, Any]:
        return {"INDICATOR_R048_MIN_PROCESSES": settings.INDICATOR_R048_MIN_PROCESSES}

    def write(self, cursor: Any, scope: Scope) -> dict[str, Any]:
        supplier_stats.refresh(cursor, scope)
        # A supplier without any UNSPSC code has no segments to count: not compared.
        cursor.execute(
            "SELECT supplier_id, processes, cardinality(segments) FROM explorer_supplierstats "
            "WHERE processes >= %s AND cardinality(segments) > 0",
            [settings.INDICATOR_R048_MIN_PROCESSES],
        )
        rows = cursor.fetchall()
        new_results(cursor)
        meta: dict[str, Any] = {"suppliers": 0}
        if rows:
            segments = [float(n) for _, _, n in rows]
            q1, q3 = quantile_r8(segments, 0.25), quantile_r8(segments, 0.75)
            fence = q3 + 1.5 * (q3 - q1)
            meta = {"q1": q1, "q3": q3, "upper_fence": fence, "suppliers": len(rows)}
            flagged = [
                (supplier, float(n), json.dumps({"segments": n, "processes": processes, **meta}))
                for supplier, processes, n in rows
                if n >= fence
            ]
            if flagged:
                cursor.executemany(
                    f"INSERT INTO {NEW_TABLE} (supplier_id, value, evidence) VALUES (%s, %s, %s::jsonb)",
                    flagged,
                )
        write_results(cursor, self, "TRUE")
        return meta
