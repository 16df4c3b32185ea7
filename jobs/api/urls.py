from django.urls import path

from jobs.api import views

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
]
