from __future__ import annotations

from django.contrib import admin
from django.http import HttpRequest

from explorer.models import Area, Award, BusinessCategory, ImportRun, LineItem, Notice, Organization, Supplier


@admin.register(Organization)
class OrganizationAdmin(admin.ModelAdmin):
    list_display = ["name", "region", "province", "org_type"]
    search_fields = ["name"]
    list_filter = ["org_type_group", "region"]


@admin.register(Supplier)
class SupplierAdmin(admin.ModelAdmin):
    list_display = ["name", "country", "region", "size"]
    search_fields = ["name"]
    list_filter = ["size", "country"]


@admin.register(BusinessCategory, Area)
class NameAdmin(admin.ModelAdmin):
    search_fields = ["name"]


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "reference_number",
        "organization",
        "procurement_mode",
        "published_date",
        "status",
    ]
    search_fields = ["reference_number", "title"]
    raw_id_fields = ["organization", "category", "area"]
    show_full_result_count = False  # COUNT(*) over millions of rows on every page view


class LineItemInline(admin.TabularInline):
    model = LineItem
    extra = 0
    raw_id_fields = ["notice"]
    fields = ["line_number", "name", "description", "quantity", "uom", "budget"]


@admin.register(Award)
class AwardAdmin(admin.ModelAdmin):
    list_display = ["title", "award_number", "organization", "supplier", "amount", "award_date"]
    search_fields = ["award_number", "contract_number"]
    raw_id_fields = ["notice", "supplier", "organization", "category", "area"]
    readonly_fields = ["public_id", "key", "search_text"]
    inlines = [LineItemInline]
    show_full_result_count = False


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ["source_name", "era", "status", "rows_read", "rows_failed", "awards_new", "started_at"]
    list_filter = ["status", "era"]
    readonly_fields = [field.name for field in ImportRun._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
