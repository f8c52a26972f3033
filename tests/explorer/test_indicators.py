"""Every indicator against an independent computation (tests/explorer/indicator_reference.py)
on constructed edge cases and on the real samples, plus the flags they write."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import random
import uuid
from decimal import Decimal

import pytest
from django.db import connection

from explorer.importer import import_file
from explorer.indicators import INDICATORS, engine
from explorer.indicators.r048 import quantile_r8
from explorer.models import (
    Award,
    BusinessCategory,
    CategoryCut,
    ImportRun,
    IndicatorResult,
    Notice,
    Organization,
    Supplier,
    SupplierStats,
)
from tests.conftest import shared_file
from tests.explorer import indicator_reference as ref

pytestmark = pytest.mark.django_db

D = dt.date(2024, 3, 1)
PB = "Public Bidding"
ICB = "International Competitive Bidding"
SVP = "Negotiated Procurement - Small Value Procurement (Sec. 53.9)"
TWO_FAILED = "Negotiated Procurement - Two Failed Biddings (Sec. 53.1)"
_numbers = itertools.count(1)


def org(name: str = "CITY OF TESTING") -> Organization:
    return Organization.objects.get_or_create(name=name)[0]


def supplier(name: str) -> Supplier:
    return Supplier.objects.get_or_create(name=name)[0]


def notice(*, mode: str = PB, status: str = "Awarded", published=D, closing=None, abc=None, bidders="",
           title="Supply of office paper", entity=None, category=None) -> Notice:  # fmt: skip
    entity = entity or org()
    return Notice.objects.create(
        key=uuid.uuid4(), reference_number=str(next(_numbers)), title=title, procurement_mode=mode,
        organization=entity, status=status, published_date=published, closing_date=closing,
        approved_budget=abc, bidders=bidders, category=category,
    )  # fmt: skip


def award(n: Notice, *, who: str = "ACME", amount=None, day=None, unspsc="", status="Posted",
          number=None, category=None) -> Award:  # fmt: skip
    return Award.objects.create(
        key=uuid.uuid4(), notice=n, award_number=number or str(next(_numbers)), supplier=supplier(who),
        amount=None if amount is None else Decimal(amount), award_date=day, unspsc_code=unspsc, status=status,
        organization=n.organization, procurement_mode=n.procurement_mode, notice_status=n.status,
        category=category or n.category,
    )  # fmt: skip


def check(codes: dict[str, set] | None = None) -> dict[str, set]:
    """Compute from scratch; the stored results equal the reference; return them."""
    engine.compute_all()
    got, want = ref.stored(), ref.expected()
    for code in INDICATORS:
        assert got.get(code, set()) == want.get(code, set()), code
    flags = dict(Award.objects.values_list("id", "flags"))
    assert {k: sorted(v) for k, v in flags.items()} == ref.expected_award_flags()
    if codes is not None:
        for code, keys in codes.items():
            assert got.get(code, set()) == keys, code
    return got


def test_r003_threshold_is_exclusive_per_mode_and_skips_cancelled_missing_and_reversed():
    short = notice(closing=D + dt.timedelta(days=6))
    at_threshold = notice(closing=D + dt.timedelta(days=7))  # 7 days is not below 7
    icb_short = notice(mode=ICB, closing=D + dt.timedelta(days=14))
    icb_ok = notice(mode=ICB, closing=D + dt.timedelta(days=15))
    notice(status="Cancelled", closing=D + dt.timedelta(days=1))
    notice(mode=SVP, closing=D + dt.timedelta(days=1))  # not open or selective
    notice(closing=None)
    notice(closing=D - dt.timedelta(days=3))  # reversed: no period to measure
    same_day = notice(mode="Limited Source Bidding (Sec. 49)", closing=D)
    got = check({"R003": {short.id, icb_short.id, same_day.id}})
    assert at_threshold.id not in got["R003"]
    assert icb_ok.id not in got["R003"]
    evidence = IndicatorResult.objects.get(code="R003", notice=icb_short).evidence
    assert (evidence["days"], evidence["threshold"]) == (14, 15)


def test_r018_one_bidder_in_competitive_modes_only():
    one = notice(bidders="ACME")
    notice(bidders="ACME\nBETA")
    notice(bidders="")
    notice(mode=SVP, bidders="ACME")
    notice(status="Cancelled", bidders="ACME")
    check({"R018": {one.id}})


def test_r048_fence_by_rule_8_with_too_few_processes_and_multi_supplier_awards(settings):
    settings.INDICATOR_R048_MIN_PROCESSES = 3
    # Ten suppliers with three processes each in one or two segments; one in five segments; one in
    # five segments but only two processes (too few); and one whose awards are shared.
    for s in range(10):
        for i in range(3):
            award(notice(), who=f"S{s}", unspsc="43211500" if s % 2 or i else "44111500")
    for seg in ("10", "20", "30", "40", "50"):
        award(notice(), who="WIDE", unspsc=f"{seg}111111")
    for seg in ("10", "20"):
        award(notice(), who="FEW", unspsc=f"{seg}111111")
    for _ in range(4):
        award(notice(), who="NO CODES")  # no UNSPSC code: no segments to compare
    for seg in ("10", "20", "30", "40", "50"):
        n = notice()
        award(n, who="SHARED", unspsc=f"{seg}111111", number="JV1")
        award(n, who="PARTNER", unspsc=f"{seg}111111", number="JV1")
    wide = Supplier.objects.get(name="WIDE")
    check({"R048": {wide.id}})
    result = IndicatorResult.objects.get(code="R048")
    assert result.value == 5.0
    assert result.evidence["upper_fence"] == pytest.approx(3.5)


def test_quantile_r8_matches_the_published_rule():
    # Hyndman and Fan type 8 on 1..10: h = (10 + 1/3) * 0.25 + 1/3 = 2.9167
    assert quantile_r8([float(x) for x in range(1, 11)], 0.25) == pytest.approx(2.9166667)
    assert quantile_r8([float(x) for x in range(1, 11)], 0.75) == pytest.approx(8.0833333)
    assert quantile_r8([5.0], 0.75) == 5.0
    assert quantile_r8([1.0, 2.0], 0.75) == 2.0


def test_ph01_above_the_abc_anywhere_and_at_99_percent_in_competitive_modes():
    a1 = award(notice(abc="100000"), amount="100000.01")
    a2 = award(notice(abc="100000"), amount="99000")  # exactly 99 %
    award(notice(abc="100000"), amount="98999.99")
    award(notice(mode=SVP, abc="100000"), amount="99500")  # not competitive: at, not above
    a5 = award(notice(mode=SVP, abc="100000"), amount="100001")
    award(notice(abc=None), amount="5")
    award(notice(abc="100000"), amount="200000", status="Cancelled")
    check({"PH01": {a1.id, a2.id, a5.id}})
    assert IndicatorResult.objects.get(award=a1).evidence["rule"] == "above"


def test_ph02_short_and_negative_decision_periods():
    closing = D + dt.timedelta(days=10)
    quick = award(notice(closing=closing), day=closing + dt.timedelta(days=2))
    award(notice(closing=closing), day=closing + dt.timedelta(days=3))  # at the threshold
    before = award(notice(closing=closing), day=closing - dt.timedelta(days=5))
    award(notice(closing=None), day=closing)
    award(notice(closing=closing), day=None)
    award(notice(closing=closing, status="Cancelled"), day=closing)
    check({"PH02": {quick.id, before.id}})
    assert IndicatorResult.objects.get(award=before).evidence["negative"] is True


def test_ph03_split_purchases_within_the_window_and_under_the_ceiling():
    entity = org("SPLIT CITY")
    n = lambda: notice(mode=SVP, entity=entity)  # noqa: E731
    a = award(n(), who="PAPER CO", amount="600000", day=D, unspsc="14111507")
    b = award(n(), who="PAPER CO", amount="500000", day=D + dt.timedelta(days=30), unspsc="14111510")
    award(n(), who="PAPER CO", amount="600000", day=D + dt.timedelta(days=90), unspsc="14111507")  # alone
    award(n(), who="PAPER CO", amount="600000", day=D, unspsc="44111507")  # another class
    award(n(), who="OTHER CO", amount="600000", day=D, unspsc="14111507")  # another supplier
    award(n(), who="BIG CO", amount="1000001", day=D, unspsc="14111507")  # above the ceiling itself
    award(n(), who="BIG CO", amount="100", day=D, unspsc="14111507")
    award(notice(entity=entity), who="PAPER CO", amount="900000", day=D, unspsc="14111507")  # bidding
    award(n(), who="EXACT CO", amount="500000", day=D, unspsc="14111507")
    award(n(), who="EXACT CO", amount="500000", day=D, unspsc="14111507")  # sum == ceiling: not above
    check({"PH03": {a.id, b.id}})
    assert IndicatorResult.objects.get(award=a).evidence["total"] == 1100000


def test_ph04_negotiated_without_two_similar_failed_biddings_in_the_year():
    entity = org("FAILING TOWN")
    title = "Construction of multi-purpose building"
    lonely = notice(mode=TWO_FAILED, entity=entity, title=title, published=D)
    other = org("PROPER TOWN")
    for days in (100, 200):
        notice(entity=other, status="Failed", title=title, published=D - dt.timedelta(days=days))
    proper = notice(mode=TWO_FAILED, entity=other, title=title, published=D)
    notice(entity=entity, status="Failed", title=title, published=D - dt.timedelta(days=400))  # too old
    notice(entity=entity, status="Failed", title="Supply of medicines", published=D - dt.timedelta(days=10))
    notice(entity=entity, status="Failed", title=title, published=D - dt.timedelta(days=20))  # only one
    got = check({"PH04": {lonely.id}})
    assert proper.id not in got["PH04"]
    assert IndicatorResult.objects.get(code="PH04").evidence["failed_found"] == 1


def test_ph05_new_supplier_above_the_category_percentile():
    category = BusinessCategory.objects.create(name="Medicines")
    for i in range(30):
        award(notice(category=category), who="OLD PHARMA", amount="1000", day=D - dt.timedelta(days=800 - i))
    new = award(notice(category=category), who="NEW PHARMA", amount="50000", day=D)
    award(notice(category=category), who="NEW PHARMA", amount="10", day=D - dt.timedelta(days=100))
    award(notice(category=category), who="OLD PHARMA", amount="60000", day=D)  # old supplier
    late = award(notice(category=category), who="LATE PHARMA", amount="1", day=D - dt.timedelta(days=365))
    award(notice(category=category), who="LATE PHARMA", amount="70000", day=D)  # exactly 365 days
    small_cat = BusinessCategory.objects.create(name="Rare")
    award(notice(category=small_cat), who="RARE CO", amount="1000000", day=D)  # too few in category
    check({"PH05": {new.id}})
    assert late.id not in ref.stored()["PH05"]


def test_incremental_equals_from_scratch_and_clears_flags():
    entity = org("INC CITY")
    first = notice(mode=SVP, entity=entity)
    a = award(first, who="PAPER CO", amount="600000", day=D, unspsc="14111507")
    short = notice(closing=D + dt.timedelta(days=2))
    award(short, amount="1")
    engine.compute_all()
    assert Award.objects.get(id=a.id).flags == []
    # An import adds a second purchase: the first award gets PH03 though its notice is old.
    marks = engine.high_water_marks()
    b = award(notice(mode=SVP, entity=entity), who="PAPER CO", amount="600000", day=D + dt.timedelta(days=3),
              unspsc="14111507")  # fmt: skip
    done = engine.compute_after_import(notice_after=marks[0], award_after=marks[1])
    assert not done.full
    assert Award.objects.get(id=a.id).flags == ["PH03"]
    assert Award.objects.get(id=b.id).flags == ["PH03"]
    assert Notice.objects.get(id=first.id).flags == ["PH03"]
    incremental = ref.stored()
    engine.compute_all()
    assert ref.stored() == incremental
    # A change that removes a flag: the short notice is cancelled and recomputed.
    Notice.objects.filter(id=short.id).update(status="Cancelled")
    engine.compute_for_notices([short.id])
    assert Notice.objects.get(id=short.id).flags == []
    assert all(f == [] for f in Award.objects.filter(notice=short).values_list("flags", flat=True))


def test_r003_uses_real_times_where_the_file_has_them():
    manila = dt.timezone(dt.timedelta(hours=8))
    # 6 days 23 hours by the clock: 6 whole days (short); the dates alone would say 7.
    timed = notice(closing=D + dt.timedelta(days=7))
    Notice.objects.filter(id=timed.id).update(
        published_at=dt.datetime(2024, 3, 1, 11, 0, tzinfo=manila),
        closing_at=dt.datetime(2024, 3, 8, 10, 0, tzinfo=manila),
    )
    untimed = notice(closing=D + dt.timedelta(days=7))
    got = check()
    assert timed.id in got["R003"]
    assert untimed.id not in got["R003"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sample", ["philgeps-v2-2024q4-sample-200.csv", "philgeps-v1-2023-sample-11.csv"])
def test_real_samples_after_import_equal_the_reference_and_a_full_recompute(sample):
    run = import_file(shared_file(sample))  # the import computes them (from scratch: all its notices are new)
    assert run.status == ImportRun.Status.SUCCEEDED
    after_import = ref.stored()
    want = ref.expected()
    for code in INDICATORS:
        assert after_import.get(code, set()) == want.get(code, set()), code
    flags = {k: sorted(v) for k, v in Award.objects.values_list("id", "flags")}
    assert flags == ref.expected_award_flags()
    engine.compute_all()
    assert ref.stored() == after_import
    assert sum(len(v) for v in after_import.values()) > 0  # the samples do carry some


@pytest.mark.django_db(transaction=True)
def test_a_first_import_computes_from_scratch_and_a_smaller_one_incrementally(caplog):
    caplog.set_level("INFO", logger="explorer.importer")
    import_file(shared_file("philgeps-v2-2024q4-sample-200.csv"))  # into an empty database
    assert "indicators after import (from scratch)" in caplog.text
    caplog.clear()
    import_file(shared_file("philgeps-v1-2023-sample-11.csv"))  # a few notices more
    assert "indicators after import (incremental)" in caplog.text
    after_both = ref.stored()
    engine.compute_all()
    assert ref.stored() == after_both


@pytest.mark.django_db(transaction=True)
def test_v1_sample_keeps_real_closing_times_and_r003_reads_them():
    import_file(shared_file("philgeps-v1-2023-sample-11.csv"))
    liliw = Notice.objects.get(reference_number="9386985")
    manila = dt.timezone(dt.timedelta(hours=8))
    assert liliw.closing_at == dt.datetime(2023, 1, 11, 10, 0, tzinfo=manila)
    assert liliw.published_at is None  # 00:00:00.000 is a date alone
    # Published 4 January, closing 11 January 10:00: 7 whole days, not below 7.
    assert "R003" not in liliw.flags


@pytest.mark.django_db(transaction=True)
def test_an_import_whose_indicator_step_fails_still_succeeds_and_says_so(monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(engine, "compute_after_import", broken)
    monkeypatch.setattr(engine, "compute_all", broken)
    run = import_file(shared_file("philgeps-v1-2023-sample-11.csv"))
    assert run.status == ImportRun.Status.SUCCEEDED
    assert "indicators were not recomputed" in run.message
    assert Award.objects.exists()


def test_failed_biddings_imported_later_clear_ph04_on_the_entitys_negotiated_notice():
    entity = org("LATE RECORDS TOWN")
    title = "Construction of a seawall"
    negotiated = notice(mode=TWO_FAILED, entity=entity, title=title, published=D)
    award(negotiated, amount="100")
    engine.compute_all()
    assert Notice.objects.get(id=negotiated.id).flags == ["PH04"]
    marks = engine.high_water_marks()
    for days in (60, 120):
        notice(entity=entity, status="Failed", title=title, published=D - dt.timedelta(days=days))
    engine.compute_after_import(notice_after=marks[0], award_after=marks[1])
    assert Notice.objects.get(id=negotiated.id).flags == []
    assert Award.objects.get(notice=negotiated).flags == []
    check()


def test_an_older_award_imported_later_makes_a_supplier_not_new_for_ph05():
    category = BusinessCategory.objects.create(name="Vehicles")
    for i in range(25):
        award(notice(category=category), who="FLEET OLD", amount="1000", day=D - dt.timedelta(days=900 + i))
    big = award(notice(category=category), who="FLEET NEW", amount="90000", day=D)
    engine.compute_all()
    assert "PH05" in Award.objects.get(id=big.id).flags
    marks = engine.high_water_marks()
    award(
        notice(category=category), who="FLEET NEW", amount="1", day=D - dt.timedelta(days=700)
    )  # its history
    engine.compute_after_import(notice_after=marks[0], award_after=marks[1])
    assert "PH05" not in Award.objects.get(id=big.id).flags
    check()


def snapshot() -> tuple[list[tuple], dict[int, list[str]], dict[int, list[str]]]:
    """Every stored result (all but its id and time) and the flags of every award and notice."""
    rows = sorted(
        (r.code, r.scope, r.notice_id, r.award_id, r.organization_id, r.supplier_id, r.value,
         json.dumps(r.evidence, sort_keys=True))
        for r in IndicatorResult.objects.all()
    )  # fmt: skip
    awards = {k: sorted(v) for k, v in Award.objects.values_list("id", "flags")}
    notices = {k: sorted(v) for k, v in Notice.objects.values_list("id", "flags")}
    return rows, awards, notices


def imported(add) -> tuple[list[tuple], dict[int, list[str]], dict[int, list[str]]]:
    """Run `add` as an import (its rows, then the importer's incremental recompute); assert
    that the results and flags equal a recompute from scratch; return them."""
    marks = engine.high_water_marks()
    add()
    done = engine.compute_after_import(notice_after=marks[0], award_after=marks[1])
    assert not done.full
    incremental = snapshot()
    engine.compute_all()
    assert snapshot() == incremental
    return incremental


def test_an_import_that_moves_the_r048_fence_unflags_a_supplier_it_did_not_touch(settings):
    settings.INDICATOR_R048_MIN_PROCESSES = 3
    for s in range(10):
        for i in range(3):
            award(notice(), who=f"S{s}", unspsc="43211500" if s % 2 or i else "44111500")
    for seg in ("10", "20", "30", "40", "50"):
        award(notice(), who="WIDE", unspsc=f"{seg}111111")
    jv = notice()
    award(jv, who="S1", unspsc="60111111", number="JV9")
    engine.compute_all()
    wide = Supplier.objects.get(name="WIDE")
    assert set(IndicatorResult.objects.filter(code="R048").values_list("supplier_id", flat=True)) == {wide.id}

    def add() -> None:
        # Five suppliers now span six segments each: Q3 and the fence rise above WIDE's five.
        for s in range(5):
            for seg in ("11", "21", "31", "41", "51"):
                award(notice(), who=f"S{s}", unspsc=f"{seg}111111")
        # A partner on an award already stored: S1's award there is no longer single-supplier.
        award(jv, who="PARTNER", unspsc="60111111", number="JV9")

    imported(add)
    assert not IndicatorResult.objects.filter(code="R048", supplier=wide).exists()
    assert "R048" not in Award.objects.filter(supplier=wide).first().flags
    assert not IndicatorResult.objects.filter(code="R048").exists()  # the fence is now 15.3
    s1 = SupplierStats.objects.get(supplier__name="S1")
    assert (s1.processes, len(s1.segments)) == (8, 6)  # 3 + 5 new; the shared award left out


def test_an_import_that_completes_a_split_purchase_flags_the_stored_award_too():
    entity = org("SPLIT TOWN")
    n = lambda: notice(mode=SVP, entity=entity)  # noqa: E731
    old = award(n(), who="PAPER CO", amount="600000", day=D, unspsc="14111507")
    far = award(n(), who="PAPER CO", amount="700000", day=D + dt.timedelta(days=45), unspsc="14111507")
    award(n(), who="PAPER CO", amount="900000", day=D + dt.timedelta(days=400), unspsc="14111507")
    other = award(n(), who="INK CO", amount="600000", day=D, unspsc="14111507")
    award(n(), who="INK CO", amount="600000", day=D + dt.timedelta(days=20), unspsc="14111507")
    engine.compute_all()
    assert set(IndicatorResult.objects.filter(code="PH03").values_list("award_id", flat=True)) == {
        other.id, other.id + 1
    }  # fmt: skip
    new = []

    def add() -> None:
        # Between the two stored PAPER CO awards: windows with either of them.
        new.append(
            award(n(), who="PAPER CO", amount="500000", day=D + dt.timedelta(days=25), unspsc="14111599")
        )

    imported(add)
    flagged = set(IndicatorResult.objects.filter(code="PH03").values_list("award_id", flat=True))
    assert {old.id, far.id, new[0].id} <= flagged
    assert Award.objects.get(id=old.id).flags == ["PH03"]
    assert IndicatorResult.objects.get(code="PH03", award=far).evidence["total"] == 1200000


def test_an_import_that_moves_a_first_award_or_a_percentile_equals_a_full_recompute():
    medicines = BusinessCategory.objects.create(name="Medicines")
    for i in range(30):
        award(
            notice(category=medicines),
            who="OLD PHARMA",
            amount=str(1000 + i),
            day=D - dt.timedelta(days=800 - i),
        )
    young = award(notice(category=medicines), who="YOUNG PHARMA", amount="1100", day=D)
    fresh = award(notice(category=medicines), who="FRESH PHARMA", amount="95000", day=D)
    engine.compute_all()
    assert {young.id, fresh.id} <= set(
        IndicatorResult.objects.filter(code="PH05").values_list("award_id", flat=True)
    )

    def add() -> None:
        # FRESH PHARMA's history goes back two years (its award stays above the percentile);
        # large awards of an old supplier lift the category's percentile from 1,027.90 to
        # 90,000, above YOUNG PHARMA's award, which the import leaves alone.
        award(notice(category=medicines), who="FRESH PHARMA", amount="5", day=D - dt.timedelta(days=700))
        for _ in range(10):
            award(notice(category=medicines), who="OLD PHARMA", amount="90000", day=D - dt.timedelta(days=10))

    imported(add)
    assert not IndicatorResult.objects.filter(code="PH05", award_id__in=[young.id, fresh.id]).exists()
    assert Award.objects.get(id=young.id).flags == []


def test_an_incremental_run_before_the_baselines_were_ever_computed_builds_them():
    category = BusinessCategory.objects.create(name="Fuel")
    for i in range(25):
        award(notice(category=category), who=f"FUEL {i % 3}", amount=str(100 * i), day=D, unspsc="15101500")
    engine.compute_all()
    SupplierStats.objects.all().delete()  # as after the migration on a database with data
    CategoryCut.objects.all().delete()
    imported(
        lambda: award(notice(category=category), who="FUEL NEW", amount="99999", day=D, unspsc="15101500")
    )
    assert SupplierStats.objects.count() == 4
    assert CategoryCut.objects.count() == 1


@pytest.mark.parametrize("percentile", [0.9, 0.5])
def test_category_percentiles_stepped_after_imports_equal_postgres_percentile_cont(settings, percentile):
    settings.INDICATOR_NEW_SUPPLIER_PERCENTILE = percentile
    rng = random.Random(18)
    category = BusinessCategory.objects.create(name="Stepped")
    for _ in range(25):
        award(notice(category=category), who="BASE", amount=rng.choice(["100", "200", "300"]), day=D)
    engine.compute_all()
    fields = ("awards", "cut", "anchor", "below")
    for step in range(12):
        marks = engine.high_water_marks()
        # Small amounts step the rank down from the anchor, large ones up; ties and
        # cancelled awards (not counted) on the way.
        amounts = ["1", "2", "3", "50"] if step % 3 else ["300", "5000", "99999"]
        for _ in range(rng.randint(1, 30 if step % 3 else 7)):
            status = "Cancelled" if rng.random() < 0.2 else "Posted"
            award(
                notice(category=category), who=f"NEW {step}", amount=rng.choice(amounts), day=D, status=status
            )
        engine.compute_after_import(notice_after=marks[0], award_after=marks[1])
        stepped = CategoryCut.objects.filter(category=category).values(*fields).get()
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT percentile_cont(%s) WITHIN GROUP (ORDER BY amount) FROM explorer_award "
                "WHERE category_id = %s AND amount IS NOT NULL AND status NOT ILIKE 'cancel%%'",
                [percentile, category.id],
            )
            assert stepped["cut"] == cursor.fetchone()[0]
        incremental = snapshot()
        engine.compute_all()
        assert CategoryCut.objects.filter(category=category).values(*fields).get() == stepped
        assert snapshot() == incremental
