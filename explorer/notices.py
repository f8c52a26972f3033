"""Contracting processes (notices), with or without awards: the notices list's filters
and its keyset pages. Awards stay the unit of money totals; a notice's page shows its
awards, line items, dates, bidders and indicators (views.notice)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.db.models import Exists, OuterRef, QuerySet
from django.urls import reverse

from explorer import ocds
from explorer.models import Award, Notice, Organization
from explorer.search import FlagField

PAGE_SIZE = 50


class NoticeForm(forms.Form):
    flag = FlagField(label="Indicator", required=False, help_text="Notices carrying all these codes.")
    status = forms.ChoiceField(
        label="Notice status",
        required=False,
        choices=[
            ("", "Any"),
            ("Awarded", "Awarded"),
            ("Closed", "Closed"),
            ("Cancelled", "Cancelled"),
            ("Failed", "Failed"),
        ],
    )
    organization = forms.CharField(label="Procuring entity", required=False, max_length=255)
    without_awards = forms.BooleanField(label="Only notices without awards", required=False)
    after = forms.IntegerField(required=False, min_value=1, max_value=2**63 - 1, widget=forms.HiddenInput)

    def notices(self) -> QuerySet[Notice]:
        data = self.cleaned_data
        notices = Notice.objects.all()
        if data.get("flag"):
            notices = notices.filter(flags__contains=data["flag"].split(","))
        if data.get("status"):
            notices = notices.filter(status__iexact=data["status"])
        if data.get("organization"):
            pk = Organization.objects.filter(name=data["organization"]).values_list("id", flat=True).first()
            notices = notices.filter(organization_id=pk or 0)
        if data.get("without_awards"):
            notices = notices.filter(~Exists(Award.objects.filter(notice_id=OuterRef("id"))))
        return notices.order_by("-id")

    def page(self) -> tuple[list[Notice], str]:
        """One page, newest first, and the next page's URL ("" at the end)."""
        notices = self.notices()
        if self.cleaned_data.get("after"):
            notices = notices.filter(id__lt=self.cleaned_data["after"])
        rows = list(notices.select_related("organization")[: PAGE_SIZE + 1])
        if len(rows) <= PAGE_SIZE:
            return rows, ""
        rows = rows[:PAGE_SIZE]
        return rows, self.url(after=rows[-1].id)

    def url(self, **changes: Any) -> str:
        query = {k: v for k, v in {**self.cleaned_data, **changes}.items() if v not in (None, "", False)}
        return f"{reverse('explorer:notices')}?{urlencode(query)}" if query else reverse("explorer:notices")


def ocds_release_url(notice: Notice) -> str:
    """The notice's OCDS release in the API."""
    return reverse("ocds-release", args=[ocds.ocid(reference_number=notice.reference_number, key=notice.key)])
