from __future__ import annotations

from django.urls import path, re_path

from jobs import api, upload_views, views

UPLOAD = r"^jobs/import/uploads/(?P<upload_id>[0-9a-f]{32})/"

app_name = "jobs"
urlpatterns = [
    path("jobs/", views.job_list, name="list"),
    path("jobs/submit/", views.submit, name="submit"),
    path("jobs/actions/", views.search_actions, name="search-actions"),
    path("jobs/import/", views.import_page, name="import"),
    path("jobs/import/uploads/", upload_views.start, name="upload-start"),
    re_path(UPLOAD + r"$", upload_views.status, name="upload-status"),
    # The one route that takes a body larger than REQUEST_MAX_BODY_BYTES (config/server.py).
    re_path(UPLOAD + r"chunk/$", upload_views.chunk, name="upload-chunk"),
    re_path(UPLOAD + r"complete/$", upload_views.complete, name="upload-complete"),
    path("system/", views.system_page, name="system"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="detail"),
    path("jobs/<uuid:job_id>/status/", views.job_status, name="status"),
    path("jobs/<uuid:job_id>/timeline/", views.job_timeline, name="timeline"),
    path("jobs/<uuid:job_id>/report/", views.job_report, name="report"),
    path("jobs/<uuid:job_id>/cancel/", views.cancel, name="cancel"),
    path("jobs/<uuid:job_id>/rerun/", views.rerun, name="rerun"),
    path("jobs/<uuid:job_id>/download/", views.download, name="download"),
    path("api/jobs/", api.jobs, name="api-list"),
    path("api/jobs/<uuid:job_id>/", api.job_detail, name="api-detail"),
    path("api/jobs/<uuid:job_id>/cancel/", api.job_cancel, name="api-cancel"),
    path("api/jobs/<uuid:job_id>/download/", api.job_download, name="api-download"),
    path("api/jobs/<uuid:job_id>/report/", api.job_report, name="api-report"),
]
