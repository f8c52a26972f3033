"""An independent computation of every indicator in plain Python over ORM rows, written
from the definitions in the README (not from the SQL), for the indicator tests."""

from __future__ import annotations

import datetime as dt
import math
import re
from collections import defaultdict
from decimal import Decimal
from typing import Any

from django.conf import settings

from explorer.models import Award, Notice

MANILA = dt.timezone(dt.timedelta(hours=8))


def _starts(mode: str, prefixes: list[str] | tuple[str, ...]) -> bool:
    return any(mode.lower().startswith(p.lower()) for p in prefixes)


def _competitive(mode: str) -> bool:
    return _starts(mode, settings.INDICATOR_COMPETITIVE_MODES)


def _cancelled(status: str) -> bool:
    return status.lower().startswith("cancel")


def trigrams(text: str) -> set[str]:
    """pg_trgm's trigrams: lower-cased words of letters and digits, padded "  w "."""
    grams: set[str] = set()
    for word in re.findall(r"[^\W_]+", text.lower()):
        padded = f"  {word} "
        grams |= {padded[i : i + 3] for i in range(len(padded) - 2)}
    return grams


def similarity(a: str, b: str) -> float:
    ta, tb = trigrams(a), trigrams(b)
    return len(ta & tb) / len(ta | tb) if ta | tb else 0.0


def r8(values: list[float], p: float) -> float:
    xs = sorted(values)
    n = len(xs)
    h = (n + 1 / 3) * p + 1 / 3
    if h <= 1:
        return xs[0]
    if h >= n:
        return xs[-1]
    j = int(h)
    return xs[j - 1] + (h - j) * (xs[j] - xs[j - 1])


def percentile_cont(values: list[Decimal], p: float) -> float:
    xs = sorted(float(v) for v in values)
    pos = p * (len(xs) - 1)
    low = math.floor(pos)
    high = min(low + 1, len(xs) - 1)
    return xs[low] + (pos - low) * (xs[high] - xs[low])


def expected() -> dict[str, set[Any]]:
    """code -> the set of flagged keys: notice ids (process), award ids (award), supplier ids."""
    notices = {n["id"]: n for n in Notice.objects.values()}
    awards = list(Award.objects.values())
    out: dict[str, set[Any]] = defaultdict(set)

    for n in notices.values():
        live = not _cancelled(n["status"])
        if live and _competitive(n["procurement_mode"]) and n["published_date"] and n["closing_date"]:
            start = n["published_at"] or dt.datetime.combine(n["published_date"], dt.time(0), MANILA)
            end = n["closing_at"] or dt.datetime.combine(n["closing_date"], dt.time(23, 59, 59), MANILA)
            days = math.floor((end - start).total_seconds() / 86400)
            threshold = settings.INDICATOR_R003_DAYS
            for prefix, limit in settings.INDICATOR_R003_MODE_DAYS.items():
                if _starts(n["procurement_mode"], [prefix]):
                    threshold = limit
                    break
            if 0 <= days < threshold:
                out["R003"].add(n["id"])
        bidders = [b for b in n["bidders"].split("\n") if b.strip()]
        if live and _competitive(n["procurement_mode"]) and len(bidders) == 1:
            out["R018"].add(n["id"])
        if live and "two failed biddings" in n["procurement_mode"].lower() and n["published_date"]:
            start = n["published_date"] - dt.timedelta(days=settings.INDICATOR_FAILED_LOOKBACK_DAYS)
            found = [
                p
                for p in notices.values()
                if p["id"] != n["id"]
                and p["organization_id"] == n["organization_id"]
                and p["status"].lower() == "failed"
                and p["published_date"]
                and start <= p["published_date"] <= n["published_date"]
                and similarity(p["title"], n["title"]) >= settings.INDICATOR_FAILED_TITLE_SIMILARITY
            ]
            if len(found) < 2:
                out["PH04"].add(n["id"])

    live_awards = [a for a in awards if not _cancelled(a["status"])]
    # R048: single-supplier awards of live notices, suppliers with enough processes.
    suppliers_of = defaultdict(set)
    for a in awards:
        if a["award_number"]:
            suppliers_of[(a["notice_id"], a["award_number"])].add(a["supplier_id"])
    processes, segments = defaultdict(set), defaultdict(set)
    for a in live_awards:
        if a["supplier_id"] is None or _cancelled(notices[a["notice_id"]]["status"]):
            continue
        if a["award_number"] and len(suppliers_of[(a["notice_id"], a["award_number"])]) > 1:
            continue
        processes[a["supplier_id"]].add(a["notice_id"])
        if re.match(r"^[0-9]{2}", a["unspsc_code"]):
            segments[a["supplier_id"]].add(a["unspsc_code"][:2])
    eligible = {
        s: len(segments[s])
        for s, p in processes.items()
        if len(p) >= settings.INDICATOR_R048_MIN_PROCESSES and segments[s]
    }
    if eligible:
        q1, q3 = r8(list(eligible.values()), 0.25), r8(list(eligible.values()), 0.75)
        out["R048"] = {s for s, n in eligible.items() if n >= q3 + 1.5 * (q3 - q1)}

    for a in live_awards:
        n = notices[a["notice_id"]]
        abc = n["approved_budget"]
        if abc and abc > 0 and a["amount"] is not None:
            share = Decimal(str(settings.INDICATOR_CEILING_SHARE))
            if a["amount"] > abc or (_competitive(n["procurement_mode"]) and a["amount"] >= share * abc):
                out["PH01"].add(a["id"])
        dated = n["closing_date"] and a["award_date"] and not _cancelled(n["status"])
        if dated and (a["award_date"] - n["closing_date"]).days < settings.INDICATOR_DECISION_MIN_DAYS:
            out["PH02"].add(a["id"])

    # PH03: groups of (entity, supplier, class, mode ceiling), windows anchored on each award.
    window = dt.timedelta(days=settings.INDICATOR_SPLIT_WINDOW_DAYS)
    groups = defaultdict(list)
    for a in live_awards:
        ceiling = None
        for number, (prefix, amount) in enumerate(settings.INDICATOR_SPLIT_CEILINGS.items()):
            if _starts(a["procurement_mode"], [prefix]):
                ceiling = (number, amount)
                break
        if (
            ceiling
            and a["supplier_id"]
            and a["award_date"]
            and a["amount"] is not None
            and re.match(r"^[0-9]{6}", a["unspsc_code"])
            and a["amount"] <= ceiling[1]
        ):
            groups[(a["organization_id"], a["supplier_id"], a["unspsc_code"][:6], ceiling)].append(a)
    for (_, _, _, (_, ceiling)), members in groups.items():
        for anchor in members:
            inside = [
                m for m in members if anchor["award_date"] <= m["award_date"] <= anchor["award_date"] + window
            ]
            if sum(m["amount"] for m in inside) > ceiling:
                out["PH03"] |= {m["id"] for m in inside}

    # PH05
    by_category = defaultdict(list)
    for a in live_awards:
        if a["amount"] is not None and a["category_id"] is not None:
            by_category[a["category_id"]].append(a["amount"])
    cut = {
        c: percentile_cont(v, settings.INDICATOR_NEW_SUPPLIER_PERCENTILE)
        for c, v in by_category.items()
        if len(v) >= 20
    }
    first: dict[int, dt.date] = {}
    for a in live_awards:
        if a["supplier_id"] and a["award_date"]:
            first[a["supplier_id"]] = min(first.get(a["supplier_id"], a["award_date"]), a["award_date"])
    for a in live_awards:
        c = a["category_id"]
        large = c in cut and a["amount"] is not None and float(a["amount"]) > cut[c] and a["award_date"]
        if large and (
            a["supplier_id"] in first
            and (a["award_date"] - first[a["supplier_id"]]).days < settings.INDICATOR_NEW_SUPPLIER_DAYS
        ):
            out["PH05"].add(a["id"])
    return out


def stored() -> dict[str, set[Any]]:
    """The same keys from the stored results."""
    from explorer.models import IndicatorResult

    out: dict[str, set[Any]] = defaultdict(set)
    for r in IndicatorResult.objects.values("code", "scope", "notice_id", "award_id", "supplier_id"):
        key = {"process": r["notice_id"], "award": r["award_id"], "supplier": r["supplier_id"]}[r["scope"]]
        out[r["code"]].add(key)
    return out


def expected_award_flags() -> dict[int, list[str]]:
    """Each award's flags: its own, its notice's and its supplier's codes."""
    from explorer.indicators import INDICATORS

    exp = expected()
    awards = Award.objects.values("id", "notice_id", "supplier_id")
    flags = {}
    for a in awards:
        codes = []
        for code, keys in exp.items():
            scope = INDICATORS[code].scope
            key = {"process": a["notice_id"], "award": a["id"], "supplier": a["supplier_id"]}[scope]
            if key in keys:
                codes.append(code)
        flags[a["id"]] = sorted(codes)
    return flags
