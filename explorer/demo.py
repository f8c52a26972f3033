"""Deterministic synthetic procurement data shaped like the real PhilGEPS history.

The shape follows REFERENCE.md section 2: a few agencies and suppliers hold most awards
(log-normal weights), amounts are log-normal with a long tail and a quarter of them
rounded to thousands, titles come from procurement vocabulary. A few anomalies are
planted so the red-flag report has something true to find (see PLANTED).

Rows are built as named tuples whose fields are the table's columns (NoticeRow, ...) and
written with COPY: the ORM would spend most of the time building objects.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import itertools
import math
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Generic, NamedTuple, TypeVar

from django.db import connection, models, transaction

from explorer.models import (
    Area,
    Award,
    BusinessCategory,
    CategoryCut,
    IndicatorResult,
    LineItem,
    Notice,
    Organization,
    PeerBaseline,
    ResultSetMember,
    RiskProfile,
    Supplier,
    SupplierStats,
)
from explorer.philgeps import natural_key

# Names of the planted anomalies; tests and the report job look for them.
PLANTED = {
    # First digits 4 and 9 far above Benford's expectation (like the DPWH flood-control data).
    "benford_agency": "DEMO DISTRICT ENGINEERING OFFICE - SAN ISIDRO",
    # Awards bunched just under the PHP 1,000,000 small-value ceiling.
    "threshold_supplier": "TRIPLE-R BUILDERS AND GENERAL MERCHANDISE",
    # One supplier takes most of one agency's spend.
    "concentration_agency": "MUNICIPALITY OF SANTA CATALINA, DEMO PROVINCE",
    "concentration_supplier": "GOLDEN HORIZON TRADING",
}
MIN_AWARDS_FOR_ANOMALIES = 2000

PROVINCES = (
    "Abra", "Agusan Del Norte", "Agusan Del Sur", "Aklan", "Albay", "Antique", "Apayao", "Aurora",
    "Basilan", "Bataan", "Batanes", "Batangas", "Benguet", "Biliran", "Bohol", "Bukidnon", "Bulacan",
    "Cagayan", "Camarines Norte", "Camarines Sur", "Camiguin", "Capiz", "Catanduanes", "Cavite", "Cebu",
    "Cotabato", "Davao De Oro", "Davao Del Norte", "Davao Del Sur", "Davao Occidental", "Davao Oriental",
    "Dinagat Islands", "Eastern Samar", "Guimaras", "Ifugao", "Ilocos Norte", "Ilocos Sur", "Iloilo",
    "Isabela", "Kalinga", "La Union", "Laguna", "Lanao Del Norte", "Lanao Del Sur", "Leyte",
    "Maguindanao", "Marinduque", "Masbate", "Metro Manila", "Misamis Occidental", "Misamis Oriental",
    "Mountain Province", "Negros Occidental", "Negros Oriental", "Northern Samar", "Nueva Ecija",
    "Nueva Vizcaya", "Occidental Mindoro", "Oriental Mindoro", "Palawan", "Pampanga", "Pangasinan",
    "Quezon", "Quirino", "Rizal", "Romblon", "Samar", "Sarangani", "Siquijor", "Sorsogon",
    "South Cotabato", "Southern Leyte", "Sultan Kudarat", "Sulu", "Surigao Del Norte", "Surigao Del Sur",
    "Tarlac", "Tawi-Tawi", "Zambales", "Zamboanga Del Norte", "Zamboanga Del Sur", "Zamboanga Sibugay",
)  # fmt: skip
REGIONS = (
    "NCR", "CAR", "Region I", "Region II", "Region III", "Region IV-A", "Region IV-B", "Region V",
    "Region VI", "Region VII", "Region VIII", "Region IX", "Region X", "Region XI", "Region XII",
    "CARAGA", "BARMM",
)  # fmt: skip
TOWNS = (
    "San Jose", "Santa Maria", "San Isidro", "Bagumbayan", "Poblacion", "San Roque", "Santo Nino",
    "Mabini", "Rizal", "Del Pilar", "Magsaysay", "Bonifacio", "Malvar", "Lapu-Lapu", "San Vicente",
    "Concepcion", "Santa Cruz", "San Antonio", "Burgos", "Luna", "Quezon", "Aguinaldo", "Carmen",
    "Dolores", "Liliw", "Pilar", "Tagum", "Kalibo", "Hilongos", "Mansalay", "Tanauan", "Baybay",
    "Calamba", "Iriga", "Ligao", "Bogo", "Danao", "Tabaco", "Naga", "Ormoc", "Roxas", "Tuguegarao",
)  # fmt: skip
AGENCY_KINDS = (
    ("MUNICIPALITY OF {town}, {PROVINCE}", "Municipality", "Local Government Units (LGU)", 30),
    ("BARANGAY {town2}, {town}, {PROVINCE}", "Barangay", "Local Government Units (LGU)", 25),
    ("PROVINCIAL GOVERNMENT OF {PROVINCE}", "Provincial Government", "Local Government Units (LGU)", 4),
    ("CITY GOVERNMENT OF {town}", "City Government", "Local Government Units (LGU)", 6),
    ("DPWH - {PROVINCE} {nth} DISTRICT ENGINEERING OFFICE", "Department", "National Government Agencies (NGA)", 6),
    ("DEPED - {PROVINCE} SCHOOLS DIVISION OFFICE", "Department", "National Government Agencies (NGA)", 8),
    ("{PROVINCE} STATE UNIVERSITY", "State Universities or Colleges (SUC)", "State Universities and Colleges (SUC)", 4),
    ("{PROVINCE} PROVINCIAL HOSPITAL", "Hospital", "National Government Agencies (NGA)", 4),
    ("{town} WATER DISTRICT", "Water District", "Government Owned and/or Controlled Corporations (GOCC)", 4),
    ("DEPARTMENT OF AGRICULTURE - {region}", "Department", "National Government Agencies (NGA)", 3),
    ("PHILIPPINE NATIONAL POLICE - {PROVINCE} PROVINCIAL OFFICE", "Attached Agency", "National Government Agencies (NGA)", 3),
    ("{town} NATIONAL HIGH SCHOOL", "School", "National Government Agencies (NGA)", 3),
)  # fmt: skip
SUPPLIER_FIRST = (
    "GOLDEN", "TRIPLE", "NEW", "GREAT", "SOUTHERN", "NORTHERN", "PACIFIC", "ISLAND", "SUNRISE", "BRIGHT",
    "ST. JUDE", "MEGA", "PRIME", "FIRST", "UNITED", "ROYAL", "EVERGREEN", "METRO", "STAR", "ACE", "JRB",
    "MJS", "RGV", "LCM", "DMC", "EMERALD", "SILVER", "BLUE WAVE", "MOUNTAIN", "RIVERSIDE", "VISAYAS",
    "MINDANAO", "LUZON", "TRI-STAR", "ALPHA", "OMEGA", "VICTORY", "HOPE", "GRACE", "FAITH", "JOY",
)  # fmt: skip
SUPPLIER_SECOND = (
    "BUILDERS", "CONSTRUCTION", "TRADING", "ENTERPRISES", "GENERAL MERCHANDISE", "OFFICE SUPPLIES",
    "MEDICAL SUPPLY", "PHARMA", "MOTORS", "COMPUTER CENTER", "HARDWARE", "CATERING SERVICES",
    "PRINTING PRESS", "AGRI SUPPLY", "ENGINEERING SERVICES", "DEVELOPMENT CORPORATION", "MARKETING",
    "TRAVEL AND TOURS", "PETROLEUM", "SECURITY AGENCY",
)  # fmt: skip
SUPPLIER_SUFFIX = ("", "", " INC.", " CORPORATION", " CO.", " & SONS", " SERVICES")

MODES = (
    ("Negotiated Procurement - Small Value Procurement (Sec. 53.9)", 44),
    ("Public Bidding", 24),
    ("Shopping - Ordinary/Regular Office Supplies & Equipment (Sec. 52.1.b)", 7),
    ("Direct Retail Purchase of POL and Airline Tickets (Sec. 53.14)", 5),
    ("Negotiated Procurement - Emergency Cases (Sec. 53.2)", 4),
    ("Direct Contracting (Sec. 50)", 3),
    ("Negotiated Procurement - Agency to Agency (Sec. 53.5)", 3),
    ("Negotiated Procurement - Lease of Real Property (Sec. 53.10)", 2),
    ("Shopping - Unforeseen Contingency (Sec. 52.1.a)", 2),
    ("Negotiated Procurement - Two Failed Biddings (Sec. 53.1)", 2),
    ("Negotiated Procurement - Community Participation (Sec. 53.12)", 1),
    ("Limited Source Bidding (Sec. 49)", 1),
    ("NP - Scientific, Scholarly/Artistic Work, Exclusive Tech. & Media Service (53.6)", 1),
    ("Negotiated Procurement - Highly Technical Consultants (Sec. 53.7)", 1),
)


@dataclass(frozen=True)
class Category:
    name: str
    classification: str
    weight: float
    median: float  # median award amount, PHP
    titles: tuple[str, ...]
    things: tuple[str, ...]
    uoms: tuple[str, ...]


CATEGORIES = (
    Category("Construction Projects", "Civil Works", 15, 3_500_000, (
        "Construction of {thing} at Barangay {town2}, {town}",
        "Rehabilitation of {thing}, {town}, {Province}",
        "Concreting of {thing} at Purok {n}, Barangay {town2}",
        "Improvement of {thing} along {town}-{town2} Road",
        "Completion of {thing} Phase {n}",
    ), ("Farm to Market Road", "Multi-Purpose Building", "Drainage Canal", "Flood Control Structure",
        "Barangay Health Station", "School Building", "Covered Court", "Footbridge", "Seawall",
        "Water System Level II", "Municipal Road", "Slope Protection", "Box Culvert", "Day Care Center"),
     ("Lot", "Lump Sum")),
    Category("Flood Control", "Civil Works", 2, 18_000_000, (
        "Construction of {thing}, {town2} River, {Province}",
        "Rehabilitation of {thing} along {town2} River",
    ), ("Flood Control Structure", "Revetment", "Dike", "Flood Mitigation Structure", "River Wall"),
     ("Lot",)),
    Category("Office Supplies", "Goods", 12, 60_000, (
        "Supply and Delivery of {thing} for the {office}",
        "Procurement of {thing} for {quarter} Quarter",
        "Purchase of {thing}",
    ), ("Office Supplies", "Bond Paper", "Ink Cartridges", "Toner", "Folders and Envelopes",
        "Record Books", "Ballpens and Markers", "Common-Use Supplies"), ("Ream", "Box", "Piece", "Pack")),
    Category("Food Stuff", "Goods", 9, 45_000, (
        "Provision of {thing} for the {event}",
        "Supply and Delivery of {thing} for {event}",
    ), ("Meals and Snacks", "Catering Services", "Rice", "Grocery Items", "Food Packs", "Packed Lunch"),
     ("Pax", "Sack", "Pack", "Lot")),
    Category("Medical Supplies and Laboratory Equipment", "Goods", 7, 180_000, (
        "Procurement of {thing} for {office}",
        "Supply and Delivery of {thing}",
    ), ("Medical Supplies", "Drugs and Medicines", "Laboratory Reagents", "Dental Supplies",
        "Hospital Equipment", "Vaccines", "Personal Protective Equipment"), ("Box", "Vial", "Piece", "Set")),
    Category("Information Technology", "Goods", 6, 250_000, (
        "Supply and Delivery of {thing} for the {office}",
        "Procurement of {thing}",
    ), ("Desktop Computers", "Laptop Computers", "Printers", "Network Equipment", "CCTV System",
        "ICT Equipment and Peripherals", "Tablets for Learners", "Software Subscription"), ("Unit", "Set", "Lot")),
    Category("Construction Materials", "Goods", 8, 150_000, (
        "Supply and Delivery of {thing} for {project}",
        "Purchase of {thing}",
    ), ("Construction Materials", "Cement and Aggregates", "Steel Bars", "Lumber", "Hardware Supplies",
        "Electrical Supplies", "Plumbing Materials", "Paint"), ("Bag", "Piece", "Cu.m.", "Lot")),
    Category("Fuel and Lubricants", "Goods", 5, 90_000, (
        "Purchase of {thing} for {office} Vehicles",
        "Supply of {thing}",
    ), ("Diesel Fuel", "Gasoline", "Lubricants", "Fuel and Oil"), ("Liter", "Lot")),
    Category("Repair and Maintenance", "Goods - General Support Services", 7, 120_000, (
        "Repair and Maintenance of {thing}",
        "Preventive Maintenance of {thing} of the {office}",
    ), ("Service Vehicle", "Air Conditioning Units", "Office Building", "Generator Set", "Ambulance",
        "Photocopier", "Dump Truck"), ("Job", "Lot", "Unit")),
    Category("Agricultural Products", "Goods", 5, 140_000, (
        "Supply and Delivery of {thing} for Farmers of {town}",
        "Procurement of {thing} for the Agricultural Program",
    ), ("Certified Rice Seeds", "Fertilizer", "Vegetable Seeds", "Fingerlings", "Farm Tools",
        "Hybrid Corn Seeds", "Organic Fertilizer"), ("Bag", "Sack", "Piece", "Kilo")),
    Category("Motor Vehicles", "Goods", 2, 1_800_000, (
        "Procurement of {thing} for the {office}",
        "Acquisition of {thing}",
    ), ("Patrol Vehicle", "Ambulance", "Dump Truck", "Service Pick-up", "Motorcycle", "Rescue Vehicle"),
     ("Unit",)),
    Category("Consulting Services", "Consulting Services", 2, 900_000, (
        "Consulting Services for the {thing}",
        "Engagement of Consultant for {thing}",
    ), ("Detailed Engineering Design", "Comprehensive Land Use Plan", "Feasibility Study",
        "Transportation Master Plan", "Audit of Financial Statements"), ("Lot",)),
    Category("Janitorial and Security Services", "Goods - General Support Services", 3, 700_000, (
        "Provision of {thing} for {year}",
        "Renewal of {thing} Contract",
    ), ("Janitorial Services", "Security Services", "Messengerial Services", "Hauling Services"),
     ("Month", "Lot")),
    Category("Printing Services", "Goods - General Support Services", 3, 40_000, (
        "Printing of {thing}",
        "Job Order for the Printing of {thing}",
    ), ("Tarpaulins", "Certificates", "Business Plates", "Learning Modules", "Forms and Receipts"),
     ("Piece", "Lot")),
    Category("Rental of Venue and Transport", "Goods - General Support Services", 4, 55_000, (
        "Rental of {thing} for the {event}",
        "Lease of {thing}",
    ), ("Venue and Accommodation", "Vehicle Rental", "Sound System", "Tents and Chairs", "Office Space"),
     ("Day", "Month", "Lot")),
)  # fmt: skip
OFFICES = (
    "Municipal Health Office", "Office of the Mayor", "Municipal Engineering Office", "Accounting Office",
    "Schools Division Office", "Provincial Hospital", "MENRO", "MDRRMO", "Rural Health Unit",
    "Municipal Agriculture Office", "PESO Office", "Budget Office", "BAC Secretariat",
)  # fmt: skip
EVENTS = (
    "Senior Citizens Day", "Nutrition Month Celebration", "Town Fiesta", "Training Workshop",
    "Feeding Program", "Brigada Eskwela", "Disaster Response Operations", "Christmas Program",
    "Leadership Youth Camp", "Seminar on Disaster Preparedness", "Supplementary Feeding Program",
)  # fmt: skip
PROJECTS = ("the Day Care Center", "the Barangay Hall Renovation", "the Drainage Project", "School Repairs")
NTH = ("1ST", "2ND", "3RD", "4TH", "LONE")
SIZES = ("Micro", "Small", "Medium", "Large", "")
# Log-normal spread of award amounts around each category's median (REFERENCE.md: long tail).
AMOUNT_SIGMA = 1.25
START = dt.date(2013, 1, 1)


@dataclass
class SeedResult:
    awards: int
    notices: int
    line_items: int
    organizations: int
    suppliers: int


T = TypeVar("T")


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


class _Picker(Generic[T]):
    """Weighted choice in O(log n) from precomputed cumulative weights."""

    def __init__(self, items: Sequence[T], weights: Sequence[float]) -> None:
        self.items = items
        self.cumulative = list(itertools.accumulate(weights))
        self.total = self.cumulative[-1]

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect.bisect(self.cumulative, rng.random() * self.total)]


class DatabaseNotEmpty(Exception):
    pass


def flush() -> None:
    """Delete every award, notice, line item, lookup row, indicator result and baseline, risk
    profile and the result sets that point at awards (not users, jobs or import runs). The
    ids start again from 1, so nothing keyed by an entity's id may stay behind."""
    emptied = (
        ResultSetMember, IndicatorResult, SupplierStats, CategoryCut, RiskProfile, PeerBaseline,
        LineItem, Award, Notice, Organization, Supplier, BusinessCategory, Area,
    )  # fmt: skip
    tables = ", ".join(model._meta.db_table for model in emptied)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {tables} RESTART IDENTITY")


def vacuum() -> None:
    """VACUUM (ANALYZE) the procurement tables after a bulk load, as autovacuum would soon
    after: an index-only scan reads the table too until the visibility map says its pages
    are all visible (the filter choices' counts on 2M awards: 0.2 s against 1.1 s each).
    Inside a transaction (a test's), where VACUUM cannot run, ANALYZE only."""
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for model in (Notice, Award, LineItem, Organization, Supplier, BusinessCategory, Area):
            cursor.execute(f"{command} {model._meta.db_table}")


def seed(*, awards: int, seed: int = 1, stdout: Callable[[str], None] = lambda s: None) -> SeedResult:
    """Fill an empty database with `awards` synthetic awards, their notices and line items.

    The same seed gives the same data. Demo names would collide with an earlier run's,
    so this refuses a database that already holds awards (see flush()).
    """
    if Award.objects.exists() or Organization.objects.exists():
        raise DatabaseNotEmpty("The database already holds procurement data.")
    rng = random.Random(seed)
    n_orgs = max(20, awards // 80)
    n_suppliers = max(40, awards // 16)
    plant = awards >= MIN_AWARDS_FOR_ANOMALIES
    if not plant:
        stdout(f"Fewer than {MIN_AWARDS_FOR_ANOMALIES} awards: no anomalies planted.")

    ids = _IdAllocator()
    categories = [(ids.next("category"), c) for c in CATEGORIES]
    category_ids = {c.name: pk for pk, c in categories}
    provinces = [(ids.next("area"), name) for name in PROVINCES]

    orgs = _make_organizations(rng, n_orgs, ids, provinces)
    suppliers = _make_suppliers(rng, n_suppliers, ids)
    if plant:
        orgs.append(_planted_org(rng, ids, PLANTED["benford_agency"], provinces))
        orgs.append(_planted_org(rng, ids, PLANTED["concentration_agency"], provinces))
        suppliers.append(_planted_supplier(rng, ids, PLANTED["threshold_supplier"]))
        suppliers.append(_planted_supplier(rng, ids, PLANTED["concentration_supplier"]))

    tables = _Tables()
    tables.add_all(BusinessCategory, [NameRow(pk, c.name) for pk, c in categories])
    tables.add_all(Area, [NameRow(pk, name) for pk, name in provinces])
    tables.add_all(Organization, [o.row for o in orgs])
    tables.add_all(Supplier, [s.row for s in suppliers])

    ordinary_orgs = _Picker(orgs[:n_orgs], [o.weight for o in orgs[:n_orgs]])
    ordinary_suppliers = _Picker(suppliers[:n_suppliers], [s.weight for s in suppliers[:n_suppliers]])
    for org in orgs[:n_orgs]:
        org.regulars = [ordinary_suppliers.pick(rng) for _ in range(rng.randint(2, 8))]
    category_picker = _Picker(categories, [c.weight for _, c in categories])
    mode_picker = _Picker([m for m, _ in MODES], [w for _, w in MODES])
    planted = _plan_anomalies(awards, orgs, suppliers, category_ids) if plant else []

    counts = SeedResult(0, 0, 0, len(orgs), len(suppliers))

    def award_specs() -> Iterator[_AwardSpec]:
        yield from planted
        for _ in range(awards - len(planted)):
            org = ordinary_orgs.pick(rng)
            cat_id, category = category_picker.pick(rng)
            # Half of an agency's awards go to its usual suppliers: real repeat business.
            use_regular = rng.random() < 0.5
            supplier = rng.choice(org.regulars) if use_regular else ordinary_suppliers.pick(rng)
            amount = _amount(rng, category.median)
            yield _AwardSpec(org, supplier, cat_id, category, amount, mode_picker.pick(rng), None)

    def rows() -> Iterator[tuple[str, tuple[Any, ...]]]:
        span_days = (dt.date(2025, 12, 31) - START).days
        for spec in award_specs():
            org, supplier, category = spec.org, spec.supplier, spec.category
            notice_id = ids.next("notice")
            award_id = ids.next("award")
            # Later years hold more awards, as PhilGEPS adoption grew.
            day = spec.day or START + dt.timedelta(days=int(span_days * math.sqrt(rng.random())))
            published = day - dt.timedelta(days=rng.randint(7, 45))
            first_thing = rng.choice(category.things)
            words = {
                "thing": first_thing,
                "town": rng.choice(TOWNS),
                "town2": rng.choice(TOWNS),
                "Province": org.province,
                "office": rng.choice(OFFICES),
                "event": rng.choice(EVENTS),
                "project": rng.choice(PROJECTS),
                "quarter": rng.choice(("1st", "2nd", "3rd", "4th")),
                "year": day.year,
                "n": rng.randint(1, 9),
            }
            title = rng.choice(category.titles).format(**words)
            reference = str(9_000_000 + notice_id)
            budget = (spec.amount * Decimal("1.05")).quantize(Decimal("1"))
            mode = spec.mode
            yield (
                "notice",
                NoticeRow(
                    id=notice_id,
                    key=natural_key("demo-notice", seed, notice_id),
                    reference_number=reference,
                    solicitation_number=f"{day.year % 100:02d}-{notice_id}",
                    title=title,
                    notice_type="Invitation to Bid",
                    classification=category.classification,
                    procurement_mode=mode,
                    organization_id=org.id,
                    category_id=spec.category_id,
                    area_id=org.area_id,
                    funding_source="Government of the Philippines (GOP)",
                    funding_instrument="General Appropriations Act",
                    trade_agreement="Implementing Rules and Regulations",
                    approved_budget=budget,
                    contract_duration=str(rng.choice((7, 15, 30, 60, 90, 120))),
                    calendar_type="Day/s",
                    published_date=published,
                    closing_date=published + dt.timedelta(days=7),
                    prebid_date=None,
                    status="Awarded",
                    bidders="",
                ),
            )
            award_number = str(5_000_000 + award_id)
            yield (
                "award",
                AwardRow(
                    id=award_id,
                    public_id=_uuid(rng),
                    key=natural_key("demo-award", seed, award_id),
                    notice_id=notice_id,
                    award_number=award_number,
                    title=title,
                    supplier_id=supplier.id,
                    amount=spec.amount,
                    contract_number=f"CN-{day.year}-{award_id}",
                    award_type="Award Notice",
                    reason="",
                    status="Updated",
                    unspsc_code="",
                    unspsc_description="",
                    published_date=day + dt.timedelta(days=3),
                    award_date=day,
                    ntp_date=day + dt.timedelta(days=5),
                    effectivity_date=None,
                    end_date=None,
                    organization_id=org.id,
                    category_id=spec.category_id,
                    area_id=org.area_id,
                    procurement_mode=mode,
                    notice_status="Awarded",
                    search_text=f"{title} {org.name} {supplier.name}",
                ),
            )
            counts.awards += 1
            counts.notices += 1
            n_items = 1 if rng.random() < 0.6 else rng.randint(2, 4)
            for line in range(1, n_items + 1):
                item_id = ids.next("item")
                thing = first_thing if line == 1 else rng.choice(category.things)
                yield (
                    "item",
                    LineItemRow(
                        id=item_id,
                        key=natural_key("demo-item", seed, item_id),
                        notice_id=notice_id,
                        award_id=award_id,
                        line_number=line,
                        name=thing,
                        description=f"{thing}, as per technical specifications",
                        quantity=rng.randint(1, 200),
                        uom=rng.choice(category.uoms),
                        budget=None,
                    ),
                )
                counts.line_items += 1

    with transaction.atomic(), _secondary_indexes_dropped((Notice, Award, LineItem), stdout):
        tables.stream(
            {"notice": (Notice, NoticeRow), "award": (Award, AwardRow), "item": (LineItem, LineItemRow)},
            rows(),
            stdout,
        )
    # The planner needs real statistics for the lookup tables too (name filters and joins
    # were planned from empty-table estimates until autovacuum came by).
    with connection.cursor() as cursor:
        for model in (Organization, Supplier, BusinessCategory, Area):
            cursor.execute(f"ANALYZE {model._meta.db_table}")
    return counts


@contextlib.contextmanager
def _secondary_indexes_dropped(
    tables_of: Sequence[type[models.Model]], stdout: Callable[[str], None]
) -> Iterator[None]:
    """Load into empty tables without their secondary indexes, then rebuild them.

    Building an index once over a million rows is several times cheaper than updating a
    dozen of them row by row. Unique constraints stay: they are the natural keys.
    """
    tables = [model._meta.db_table for model in tables_of]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = ANY(%s) "
            "AND indexname NOT IN (SELECT conname FROM pg_constraint)",
            [tables],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    yield
    stdout(f"  rebuilding {len(indexes)} indexes")
    with connection.cursor() as cursor:
        # Run the deferred foreign-key checks now: PostgreSQL will not build an index on a
        # table with pending trigger events.
        cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for _, definition in indexes:
            cursor.execute(definition)
        for table in tables:
            cursor.execute(f"ANALYZE {table}")


# One row type per table: the fields are the table's columns, so rows are built by name and
# COPY names the columns from the type (_Tables).
class NameRow(NamedTuple):
    id: int
    name: str


class OrganizationRow(NamedTuple):
    id: int
    public_id: uuid.UUID
    name: str
    region: str
    province: str
    city: str
    branch: str
    org_type: str
    org_type_group: str


class SupplierRow(NamedTuple):
    id: int
    public_id: uuid.UUID
    name: str
    country: str
    region: str
    province: str
    city: str
    size: str
    joint_venture: str


class NoticeRow(NamedTuple):
    id: int
    key: str
    reference_number: str
    solicitation_number: str
    title: str
    notice_type: str
    classification: str
    procurement_mode: str
    organization_id: int
    category_id: int
    area_id: int
    funding_source: str
    funding_instrument: str
    trade_agreement: str
    approved_budget: Decimal
    contract_duration: str
    calendar_type: str
    published_date: dt.date
    closing_date: dt.date
    prebid_date: dt.date | None
    status: str
    bidders: str


class AwardRow(NamedTuple):
    id: int
    public_id: uuid.UUID
    key: str
    notice_id: int
    award_number: str
    title: str
    supplier_id: int
    amount: Decimal
    contract_number: str
    award_type: str
    reason: str
    status: str
    unspsc_code: str
    unspsc_description: str
    published_date: dt.date
    award_date: dt.date
    ntp_date: dt.date
    effectivity_date: dt.date | None
    end_date: dt.date | None
    organization_id: int
    category_id: int
    area_id: int
    procurement_mode: str
    notice_status: str
    search_text: str


class LineItemRow(NamedTuple):
    id: int
    key: str
    notice_id: int
    award_id: int
    line_number: int
    name: str
    description: str
    quantity: int
    uom: str
    budget: Decimal | None


@dataclass
class _Org:
    id: int
    name: str
    province: str
    area_id: int
    weight: float
    regulars: list[_Supplier]
    row: OrganizationRow


@dataclass
class _Supplier:
    id: int
    name: str
    weight: float
    row: SupplierRow


@dataclass
class _AwardSpec:
    org: _Org
    supplier: _Supplier
    category_id: int
    category: Category
    amount: Decimal
    mode: str
    day: dt.date | None


def _amount(rng: random.Random, median: float) -> Decimal:
    value = median * math.exp(rng.gauss(0, AMOUNT_SIGMA))
    value = min(max(value, 500.0), 5e9)
    roll = rng.random()
    # About a quarter of real amounts are whole thousands (REFERENCE.md section 2).
    if roll < 0.03:
        value = round(value, -5) or 100_000
    elif roll < 0.08:
        value = round(value, -4) or 10_000
    elif roll < 0.25:
        value = round(value, -3) or 1000
    return Decimal(f"{value:.2f}")


def _make_organizations(
    rng: random.Random, n: int, ids: _IdAllocator, provinces: list[tuple[int, str]]
) -> list[_Org]:
    kinds = _Picker(AGENCY_KINDS, [k[3] for k in AGENCY_KINDS])
    orgs: list[_Org] = []
    seen: set[str] = set()
    while len(orgs) < n:
        template, org_type, group, _ = kinds.pick(rng)
        area_id, province = rng.choice(provinces)
        town = rng.choice(TOWNS)
        name = template.format(
            town=town.upper(),
            town2=rng.choice(TOWNS).upper(),
            PROVINCE=province.upper(),
            nth=rng.choice(NTH),
            region=rng.choice(REGIONS).upper(),
        )
        if name in seen or name in PLANTED.values():
            continue
        seen.add(name)
        pk = ids.next("org")
        region = "NCR" if province == "Metro Manila" else REGIONS[PROVINCES.index(province) % len(REGIONS)]
        # ln(awards per agency) ~ N(2.5, 2.2) in the real data: a few agencies dominate.
        weight = math.exp(rng.gauss(0, 2.0))
        row = OrganizationRow(pk, _uuid(rng), name, region, province, town, "Executive", org_type, group)
        orgs.append(_Org(pk, name, province, area_id, weight, [], row))
    return orgs


def _make_suppliers(rng: random.Random, n: int, ids: _IdAllocator) -> list[_Supplier]:
    suppliers: list[_Supplier] = []
    seen: set[str] = set()
    serial = itertools.count(1)
    while len(suppliers) < n:
        base = f"{rng.choice(SUPPLIER_FIRST)} {rng.choice(SUPPLIER_SECOND)}{rng.choice(SUPPLIER_SUFFIX)}"
        name = base if base not in seen else f"{base} {rng.choice(TOWNS).upper()} BRANCH {next(serial)}"
        if name in seen or name in PLANTED.values():
            continue
        seen.add(name)
        pk = ids.next("supplier")
        weight = math.exp(rng.gauss(0, 1.8))
        row = SupplierRow(
            id=pk,
            public_id=_uuid(rng),
            name=name,
            country="Philippines",
            region=rng.choice(REGIONS),
            province=rng.choice(PROVINCES),
            city="",
            size=rng.choice(SIZES),
            joint_venture="",
        )
        suppliers.append(_Supplier(pk, name, weight, row))
    return suppliers


def _planted_org(rng: random.Random, ids: _IdAllocator, name: str, provinces: list[tuple[int, str]]) -> _Org:
    area_id, province = provinces[0]
    pk = ids.next("org")
    row = OrganizationRow(pk, _uuid(rng), name, "Region III", province, "San Isidro", "Executive",
                          "Municipality", "Local Government Units (LGU)")  # fmt: skip
    return _Org(pk, name, province, area_id, 0.0, [], row)


def _planted_supplier(rng: random.Random, ids: _IdAllocator, name: str) -> _Supplier:
    pk = ids.next("supplier")
    row = SupplierRow(pk, _uuid(rng), name, "Philippines", "Region III", "Bulacan", "", "Small", "")
    return _Supplier(pk, name, 0.0, row)


def _plan_anomalies(
    awards: int, orgs: list[_Org], suppliers: list[_Supplier], category_ids: dict[str, int]
) -> list[_AwardSpec]:
    """The planted anomalies, as award specs; everything else is ordinary."""
    rng = random.Random(awards)
    benford_org, concentration_org = orgs[-2], orgs[-1]
    threshold_supplier, concentration_supplier = suppliers[-2], suppliers[-1]
    ordinary = suppliers[:-2]
    construction = next(c for c in CATEGORIES if c.name == "Construction Projects")
    supplies = next(c for c in CATEGORIES if c.name == "Office Supplies")
    specs: list[_AwardSpec] = []
    works = "Public Bidding"
    # Benford: first digits 4 and 9 dominate, as in DPWH flood control (29 % and 21 %).
    for _ in range(max(400, awards // 1000)):
        first = rng.choices((4, 9, 1, 2, 3, 5, 6, 7, 8), weights=(35, 30, 7, 6, 5, 5, 4, 4, 4))[0]
        amount = Decimal(f"{(first + rng.random()) * 10 ** rng.randint(5, 7):.2f}")
        specs.append(_AwardSpec(benford_org, rng.choice(ordinary), category_ids[construction.name],
                                construction, amount, works, None))  # fmt: skip
    # Threshold clustering: many awards in the last 5 % below PHP 1,000,000, few above.
    for _ in range(max(150, awards // 4000)):
        amount = Decimal(f"{rng.uniform(950_000, 999_999):.2f}")
        specs.append(_AwardSpec(rng.choice(orgs[:-2]), threshold_supplier, category_ids[supplies.name],
                                supplies, amount, MODES[0][0], None))  # fmt: skip
    # Concentration: one supplier takes about 85 % of the agency's spend.
    for i in range(max(200, awards // 2000)):
        supplier = concentration_supplier if i % 7 else rng.choice(ordinary)
        amount = _amount(rng, supplies.median)
        specs.append(_AwardSpec(concentration_org, supplier, category_ids[supplies.name], supplies,
                                amount, MODES[0][0], None))  # fmt: skip
    return specs


class _IdAllocator:
    """Primary keys handed out in Python, so rows can reference each other before COPY."""

    MODELS = {
        "category": BusinessCategory,
        "area": Area,
        "org": Organization,
        "supplier": Supplier,
        "notice": Notice,
        "award": Award,
        "item": LineItem,
    }

    def __init__(self) -> None:
        self.counters: dict[str, Iterator[int]] = {}
        for name, model in self.MODELS.items():
            last = model._default_manager.order_by("-id").values_list("id", flat=True).first() or 0
            self.counters[name] = itertools.count(last + 1)

    def next(self, name: str) -> int:
        return next(self.counters[name])


class _Tables:
    """Writes rows with COPY, the columns named by each table's row type."""

    FLUSH_ROWS = 20_000

    def add_all(self, model: type[models.Model], rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            self.stream({"x": (model, type(rows[0]))}, (("x", row) for row in rows), lambda s: None)

    def stream(
        self,
        tables: dict[str, tuple[type[models.Model], type[tuple[Any, ...]]]],
        rows: Iterator[tuple[str, tuple[Any, ...]]],
        stdout: Callable[[str], None],
    ) -> None:
        with transaction.atomic():
            self._copy(tables, rows, stdout)
            for model, _ in tables.values():
                table = model._meta.db_table
                with connection.cursor() as cursor:
                    cursor.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT COALESCE(MAX(id), 1) FROM {table}))"
                    )

    def _copy(
        self,
        tables: dict[str, tuple[type[models.Model], type[tuple[Any, ...]]]],
        rows: Iterator[tuple[str, tuple[Any, ...]]],
        stdout: Callable[[str], None],
    ) -> None:
        # One COPY per table at a time; rows of the three tables arrive interleaved, so
        # buffer them per table and flush in turns (parents before children).
        buffers: dict[str, list[tuple[Any, ...]]] = {name: [] for name in tables}
        written = 0

        def flush() -> None:
            nonlocal written
            with connection.cursor() as cursor:
                for name, (model, row_type) in tables.items():
                    if not buffers[name]:
                        continue
                    columns = ", ".join(row_type._fields)  # type: ignore[attr-defined]  # a NamedTuple
                    sql = f"COPY {model._meta.db_table} ({columns}) FROM STDIN"
                    with cursor.cursor.copy(sql) as copy:
                        for row in buffers[name]:
                            copy.write_row(row)
                    written += len(buffers[name])
                    buffers[name].clear()
            stdout(f"  {written:,} rows written")

        pending = 0
        for name, row in rows:
            buffers[name].append(row)
            pending += 1
            if pending >= self.FLUSH_ROWS:
                flush()
                pending = 0
        flush()
