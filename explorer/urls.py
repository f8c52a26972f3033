from __future__ import annotations

from django.urls import path

from explorer import views

app_name = "explorer"
urlpatterns = [
    path("", views.search, name="search"),
    path("search/totals/", views.search_totals, name="search_totals"),
    path("awards/<uuid:public_id>/", views.award, name="award"),
    path("notices/", views.notices, name="notices"),
    path("notices/<uuid:key>/", views.notice, name="notice"),
    path("organizations/<uuid:public_id>/", views.organization, name="organization"),
    path("suppliers/<uuid:public_id>/", views.supplier, name="supplier"),
    path("suggest/<str:field>/", views.suggest_names, name="suggest"),
    path("data/", views.data, name="data"),
    path("data/ocds/<str:name>", views.data_file, name="data-file"),
]
