"""The awards data model.

One PhilGEPS row is one line item of a bid notice, repeated for every award on that
notice; awards are the unit of search, export and aggregation, so money is only ever
summed over awards. Natural keys (`key`) are hashes of the identifying columns, which
makes a re-import of the same file find every row it already holds.

The full-text GIN index and the trigram indexes are in migration 0002.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import Func


class SearchDocument(Func):
    """The stored full-text document of an award: an English tsvector (stemmed, so
    "roads" finds "road")."""

    template = "to_tsvector('english'::regconfig, COALESCE(%(expressions)s, ''))"
    output_field = SearchVectorField()


class Organization(models.Model):
    """A procuring entity (government agency, LGU, school, ...)."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255, unique=True)
    region = models.CharField(max_length=100, blank=True)
    province = models.CharField(max_length=100, blank=True)
    city = models.CharField(max_length=100, blank=True)
    branch = models.CharField(max_length=100, blank=True)
    org_type = models.CharField("organization type", max_length=150, blank=True)
    org_type_group = models.CharField("organization type (grouped)", max_length=150, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Supplier(models.Model):
    """An awardee."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=255, unique=True)
    country = models.CharField(max_length=100, blank=True)
    region = models.CharField(max_length=100, blank=True)
    province = models.CharField(max_length=100, blank=True)
    city = models.CharField(max_length=100, blank=True)
    size = models.CharField(max_length=50, blank=True)
    joint_venture = models.CharField(max_length=255, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BusinessCategory(models.Model):
    name = models.CharField(max_length=255, unique=True)

    class Meta:
        ordering = ["name"]
        verbose_name_plural = "business categories"

    def __str__(self) -> str:
        return self.name


class Area(models.Model):
    """An area of delivery as written in the file (usually a province, sometimes a list)."""

    name = models.CharField(max_length=255, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Notice(models.Model):
    """A bid notice (or, for negotiated modes without a reference number, the award's notice)."""

    key = models.UUIDField(unique=True, editable=False)
    reference_number = models.CharField(max_length=32, blank=True)
    solicitation_number = models.CharField(max_length=100, blank=True)
    title = models.TextField()
    notice_type = models.CharField(max_length=150, blank=True)
    classification = models.CharField(max_length=100, blank=True)
    procurement_mode = models.CharField(max_length=150, blank=True)
    organization = models.ForeignKey(Organization, on_delete=models.PROTECT, related_name="notices")
    category = models.ForeignKey(BusinessCategory, null=True, blank=True, on_delete=models.PROTECT)
    area = models.ForeignKey(Area, null=True, blank=True, on_delete=models.PROTECT)
    funding_source = models.CharField(max_length=255, blank=True)
    funding_instrument = models.CharField(max_length=255, blank=True)
    trade_agreement = models.CharField(max_length=255, blank=True)
    approved_budget = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    contract_duration = models.CharField(max_length=50, blank=True)
    calendar_type = models.CharField(max_length=50, blank=True)
    published_date = models.DateField(null=True, blank=True)
    closing_date = models.DateField(null=True, blank=True)
    # The same moments with their time of day, where the file has one (S3); else empty.
    published_at = models.DateTimeField(null=True, blank=True)
    closing_at = models.DateTimeField(null=True, blank=True)
    prebid_date = models.DateField(null=True, blank=True)
    status = models.CharField(max_length=50, blank=True)
    bidders = models.TextField(blank=True, help_text="List of bidders, one per line (S3 files only).")
    # Codes of the indicators this process carries (its own and its awards'), written by
    # explorer/indicators/ only; the evidence is in IndicatorResult.
    flags = ArrayField(models.CharField(max_length=16), default=list, db_default=[], blank=True)

    class Meta:
        indexes = [
            GinIndex(fields=["flags"], name="notice_flags"),
            # The OCDS release of an ocid (explorer/ocds.py notice_for_ocid).
            models.Index(fields=["reference_number"], name="notice_reference_number"),
        ]

    def __str__(self) -> str:
        return self.title[:80]

    @property
    def bidder_names(self) -> list[str]:
        return [name for name in self.bidders.splitlines() if name.strip()]


class Award(models.Model):
    """One award (award number + awardee on one notice): the unit of analysis.

    The notice's organization, category, area, mode and status are copied onto the award
    so that search filters, facets and sorts read one table.
    """

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    key = models.UUIDField(unique=True, editable=False)
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="awards")
    award_number = models.CharField(max_length=32, blank=True)
    title = models.TextField(blank=True)
    # No single-column indexes on supplier and organization: the (supplier, award_date) and
    # (organization, award_date) indexes below serve those lookups too.
    supplier = models.ForeignKey(
        Supplier, null=True, blank=True, on_delete=models.PROTECT, related_name="awards", db_index=False
    )
    amount = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)
    contract_number = models.CharField(max_length=100, blank=True)
    award_type = models.CharField(max_length=150, blank=True)
    reason = models.TextField(blank=True)
    status = models.CharField(max_length=50, blank=True)
    unspsc_code = models.CharField(max_length=20, blank=True)
    unspsc_description = models.CharField(max_length=255, blank=True)
    published_date = models.DateField(null=True, blank=True)
    award_date = models.DateField(null=True, blank=True)
    ntp_date = models.DateField("notice to proceed date", null=True, blank=True)
    effectivity_date = models.DateField(null=True, blank=True)
    end_date = models.DateField(null=True, blank=True)
    # Copied from the notice for one-table search (see the class docstring).
    organization = models.ForeignKey(
        Organization, on_delete=models.PROTECT, related_name="awards", db_index=False
    )
    category = models.ForeignKey(
        BusinessCategory, null=True, blank=True, on_delete=models.PROTECT, related_name="awards"
    )
    area = models.ForeignKey(Area, null=True, blank=True, on_delete=models.PROTECT, related_name="awards")
    procurement_mode = models.CharField(max_length=150, blank=True)
    notice_status = models.CharField(max_length=50, blank=True)
    # Titles and names the keyword search reads; search_vector is derived by the database.
    search_text = models.TextField(blank=True)
    search_vector = models.GeneratedField(
        expression=SearchDocument("search_text"), output_field=SearchVectorField(), db_persist=True
    )
    # Codes of the indicators on this award, its process (notice) and its supplier, written by
    # explorer/indicators/ only (the `flag` search filter); the evidence is in IndicatorResult.
    flags = ArrayField(models.CharField(max_length=16), default=list, db_default=[], blank=True)

    class Meta:
        indexes = [
            GinIndex(fields=["flags"], name="award_flags"),
            # Search sorted by date or amount, and keyset pages over them (explorer/search.py).
            models.Index(fields=["award_date", "id"], name="award_date_id"),
            models.Index(fields=["amount", "id"], name="award_amount_id"),
            # Organization and supplier pages (totals and per-year sums, explorer/aggregates.py)
            # and the search filtered by one of them: the trailing id is the keyset order's tie
            # break, so a page of a big agency's awards, newest first, is one index range.
            models.Index(fields=["organization", "award_date", "id"], name="award_org_date_id"),
            models.Index(fields=["supplier", "award_date", "id"], name="award_supplier_date_id"),
            # Facet and filter on procurement mode.
            models.Index(fields=["procurement_mode"], name="award_mode"),
            # PH05's category percentiles (an index-only scan per category, status read from the
            # index for the cancelled test) and, after an import, the awards between a
            # category's old and new percentile (explorer/indicators/ph05_new_supplier.py).
            models.Index(
                fields=["category", "amount"],
                include=["status"],
                condition=models.Q(amount__isnull=False, category__isnull=False),
                name="award_category_amount",
            ),
        ]

    def __str__(self) -> str:
        return self.title[:80] or self.award_number


class LineItem(models.Model):
    key = models.UUIDField(unique=True, editable=False)
    notice = models.ForeignKey(Notice, on_delete=models.CASCADE, related_name="line_items")
    award = models.ForeignKey(
        Award, null=True, blank=True, on_delete=models.SET_NULL, related_name="line_items"
    )
    line_number = models.IntegerField(null=True, blank=True)
    name = models.TextField(blank=True)
    description = models.TextField(blank=True)
    quantity = models.DecimalField(max_digits=18, decimal_places=4, null=True, blank=True)
    uom = models.CharField("unit of measure", max_length=100, blank=True)
    budget = models.DecimalField(max_digits=18, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["line_number", "id"]

    def __str__(self) -> str:
        return self.name[:80]


class ImportRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        REFUSED = "refused", "Refused"
        FAILED = "failed", "Failed"

    # Row-level errors kept in full on the run; beyond this many only the count grows.
    MAX_ERRORS_KEPT = 1000

    source_name = models.CharField(max_length=255)
    sha256 = models.CharField(max_length=64, blank=True)
    era = models.CharField(max_length=20, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    message = models.TextField(blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    rows_read = models.PositiveIntegerField(default=0)
    rows_failed = models.PositiveIntegerField(default=0)
    notices_new = models.PositiveIntegerField(default=0)
    awards_new = models.PositiveIntegerField(default=0)
    line_items_new = models.PositiveIntegerField(default=0)
    organizations_new = models.PositiveIntegerField(default=0)
    suppliers_new = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, blank=True, help_text="[{line, reason}], first 1000")

    class Meta:
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.source_name} ({self.status})"


class ResultSet(models.Model):
    """A saved set of awards (the matches of a finished scan job; its id is the job's id)
    that its owner can search with `?set=<id>` (explorer/search.py checks the owner). It
    is deleted, with its members, when its job expires."""

    id = models.UUIDField(primary_key=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    size = models.PositiveIntegerField(default=0)
    description = models.CharField(max_length=300, help_text="What the set holds, for the search page.")

    def __str__(self) -> str:
        return f"Result set {self.id}"

    @classmethod
    def owned_by(cls, user: object, set_id: object) -> bool:
        if user is None or not getattr(user, "is_authenticated", False):
            return False
        return cls.objects.filter(pk=set_id, owner=user).exists()


class ResultSetMember(models.Model):
    """One award of a result set (set_id is the ResultSet's id; the scan writes members
    while it runs and the ResultSet row only when it succeeds)."""

    set_id = models.UUIDField()
    award = models.ForeignKey(Award, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            # Also the index for reading a set; a repeated write of a match is a no-op.
            models.UniqueConstraint(fields=["set_id", "award"], name="one_award_per_result_set")
        ]

    def __str__(self) -> str:
        return f"{self.award_id} in {self.set_id}"


class IndicatorResult(models.Model):
    """One indicator raised on one process, award or supplier, with its evidence.

    `scope` says which: "process" rows name the notice (award empty), "award" rows the award
    and its notice, "supplier" rows the supplier only. The organization and supplier are
    copied where they apply, so per-entity counts are one GROUP BY on this table. Written by
    explorer/indicators/ only (delete and insert per indicator and scope).
    """

    code = models.CharField(max_length=16)
    scope = models.CharField(max_length=10)
    notice = models.ForeignKey(Notice, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    award = models.ForeignKey(Award, null=True, blank=True, on_delete=models.CASCADE, related_name="+")
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    supplier = models.ForeignKey(
        Supplier, null=True, blank=True, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    value = models.FloatField(default=1.0)
    evidence = models.JSONField(default=dict)
    computed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            models.Index(fields=["code", "notice"], name="indicator_code_notice"),
            models.Index(fields=["organization", "code"], name="indicator_org_code"),
            models.Index(fields=["supplier", "code"], name="indicator_supplier_code"),
        ]

    def __str__(self) -> str:
        return f"{self.code} on {self.scope} {self.notice_id or self.supplier_id}"


class SupplierStats(models.Model):
    """Per-supplier figures that indicator baselines are computed from, so that an import
    updates them from its own awards instead of reading every award: R048's processes and
    UNSPSC segments (its fence is over all suppliers) and PH05's first award.
    Written by explorer/indicators/supplier_stats.py only."""

    supplier = models.OneToOneField(Supplier, primary_key=True, on_delete=models.CASCADE, related_name="+")
    # R048: distinct live notices among the supplier's single-supplier awards, and their
    # distinct 2-digit UNSPSC segments.
    processes = models.IntegerField()
    segments = ArrayField(models.CharField(max_length=2), default=list)
    # PH05: the date of the supplier's first live award.
    first_award = models.DateField(null=True)
    # The largest award id counted: an import adds the supplier's awards above it only.
    last_award_id = models.BigIntegerField()

    def __str__(self) -> str:
        return f"supplier {self.supplier_id}: {self.processes} processes, {len(self.segments)} segments"


class CategoryCut(models.Model):
    """PH05's baseline per business category: the percentile of its live awards' amounts,
    with what an import needs to move it without reading the category: the number of those
    amounts, the one at the percentile's rank (`anchor`) and how many are below it, and the
    largest award id counted (explorer/indicators/ph05_new_supplier.py)."""

    category = models.OneToOneField(
        BusinessCategory, primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    awards = models.IntegerField()
    # None below MIN_CATEGORY_AWARDS amounts: no baseline.
    cut = models.FloatField(null=True)
    anchor = models.DecimalField(max_digits=18, decimal_places=2, null=True)
    below = models.IntegerField()
    last_award_id = models.BigIntegerField()

    def __str__(self) -> str:
        return f"category {self.category_id}: {self.cut} over {self.awards} awards"


class RiskProfile(models.Model):
    """An organization's or supplier's screening profile against its peers of similar size,
    over all awards (explorer/profiles.py); the whole table is recomputed by a background
    task, so the entity pages read one row."""

    kind = models.CharField(max_length=20)  # "organization" or "supplier"
    entity_id = models.BigIntegerField()
    awards = models.PositiveIntegerField()
    size_class = models.CharField(max_length=20)
    score = models.FloatField(null=True, help_text="Composite screening score, 0-100 (100: no signal).")
    components = models.JSONField(help_text="{component: value, count, of, peers, percentile, score, flag}")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "entity_id"], name="one_risk_profile_per_entity")
        ]

    def __str__(self) -> str:
        return f"Risk profile of {self.kind} {self.entity_id}"


class PeerBaseline(models.Model):
    """When the risk profiles were computed, over how many awards, and the peer quartiles
    of every component by kind and size class (the newest row is the current one)."""

    computed_at = models.DateTimeField()
    awards = models.PositiveIntegerField()
    seconds = models.FloatField(default=0)
    peers = models.JSONField()

    class Meta:
        get_latest_by = "computed_at"

    def __str__(self) -> str:
        return f"Peer baseline of {self.computed_at:%Y-%m-%d %H:%M}"
