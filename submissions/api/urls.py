from django.urls import path

from submissions.api import views

urlpatterns = [
    path("submissions", views.SubmissionListView.as_view(), name="submission-list"),
    path(
        "submissions/<str:submission_id>",
        views.SubmissionDetailView.as_view(),
        name="submission-detail",
    ),
    path(
        "submissions/<str:submission_id>/approve",
        views.SubmissionApproveView.as_view(),
        name="submission-approve",
    ),
    path(
        "submissions/<str:submission_id>/reject",
        views.SubmissionRejectView.as_view(),
        name="submission-reject",
    ),
    path(
        "submissions/<str:submission_id>/corrections",
        views.SubmissionCorrectionsView.as_view(),
        name="submission-corrections",
    ),
    path(
        "submissions/<str:submission_id>/cancel",
        views.SubmissionCancelView.as_view(),
        name="submission-cancel",
    ),
]
