from django.urls import path

from jobs.api import extraction_jobs, views

urlpatterns = [
    path(
        "workflows/<slug:slug>/sessions",
        views.SessionCreateView.as_view(),
        name="session-create",
    ),
    path(
        "workflows/<slug:slug>/sessions/<str:session_id>/submit",
        views.SessionSubmitView.as_view(),
        name="session-submit",
    ),
    path("jobs/<str:session_id>", views.JobView.as_view(), name="job-detail"),
    path("uploads/<str:token>", views.upload, name="upload"),
    path(
        "extraction-jobs",
        extraction_jobs.ExtractionJobCreateView.as_view(),
        name="extraction-job-create",
    ),
    path(
        "extraction-jobs/<str:job_id>",
        extraction_jobs.ExtractionJobView.as_view(),
        name="extraction-job-detail",
    ),
    path(
        "extraction-jobs/<str:job_id>/result",
        extraction_jobs.ExtractionJobResultView.as_view(),
        name="extraction-job-result",
    ),
    path(
        "extraction-jobs/<str:job_id>/cancel",
        extraction_jobs.ExtractionJobCancelView.as_view(),
        name="extraction-job-cancel",
    ),
    # Last, so only what the routes above refuse: answered with their documented 404.
    path("workflows/<str:slug>/sessions", views.SessionPathNotFoundView.as_view()),
    path(
        "workflows/<str:slug>/sessions/<str:session_id>/submit",
        views.SessionPathNotFoundView.as_view(),
    ),
]
