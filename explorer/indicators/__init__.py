"""Procurement indicators per contracting process: one module per indicator, the contract
in base.py, the computation in engine.py, and the registry below (its order is the order
of the badges, the facet and the README)."""

from __future__ import annotations

from explorer.indicators.base import Indicator
from explorer.indicators.ph01_ceiling import PriceAtCeiling
from explorer.indicators.ph02_decision import DecisionPeriod
from explorer.indicators.ph03_split import SplitPurchases
from explorer.indicators.ph04_negotiated import NegotiatedWithoutFailures
from explorer.indicators.ph05_new_supplier import NewSupplierLargeAward
from explorer.indicators.r003 import ShortSubmissionPeriod
from explorer.indicators.r018 import SingleBid
from explorer.indicators.r048 import HeterogeneousSupplier

INDICATORS: dict[str, Indicator] = {
    indicator.code: indicator
    for indicator in (
        ShortSubmissionPeriod(),
        SingleBid(),
        HeterogeneousSupplier(),
        PriceAtCeiling(),
        DecisionPeriod(),
        SplitPurchases(),
        NegotiatedWithoutFailures(),
        NewSupplierLargeAward(),
    )
}
CODES = tuple(INDICATORS)
