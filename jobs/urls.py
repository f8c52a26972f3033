from __future__ import annotations

from django.urls import path

from jobs import api, views

app_name = "jobs"
urlpatterns = [
    path("jobs/", views.job_list, name="list"),
    path("jobs/submit/", views.submit, name="submit"),
    path("jobs/actions/", views.search_actions, name="search-actions"),
    path("jobs/import/", views.import_page, name="import"),
    path("system/", views.system_page, name="system"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="detail"),
    path("jobs/<uuid:job_id>/status/", views.job_status, name="status"),
    path("jobs/<uuid:job_id>/report/", views.job_report, name="report"),
    path("jobs/<uuid:job_id>/cancel/", views.cancel, name="cancel"),
    path("jobs/<uuid:job_id>/rerun/", views.rerun, name="rerun"),
    path("jobs/<uuid:job_id>/download/", views.download, name="download"),
    path("api/jobs/", api.jobs, name="api-list"),
    path("api/jobs/<uuid:job_id>/", api.job_detail, name="api-detail"),
    path("api/jobs/<uuid:job_id>/cancel/", api.job_cancel, name="api-cancel"),
    path("api/jobs/<uuid:job_id>/download/", api.job_download, name="api-download"),
]
