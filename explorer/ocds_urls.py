"""URLs of the OCDS API (explorer/ocds_api.py), under /api/ocds/; names without a
namespace (`ocds-release` is what the notice and award pages link by)."""

from __future__ import annotations

from django.urls import path

from explorer import ocds_api

urlpatterns = [
    path("releases/", ocds_api.releases, name="ocds-releases"),
    path("releases/<str:ocid>/", ocds_api.release, name="ocds-release"),
]
