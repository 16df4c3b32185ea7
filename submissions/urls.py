"""The review UI's routes, mounted at /review/ (the fraud panel's live in fraud.urls)."""

from django.urls import path

from submissions import views

app_name = "review"
urlpatterns = [
    path("", views.queue, name="queue"),
    path("rows", views.queue_rows, name="queue_rows"),
    path("stats", views.stats, name="stats"),
    path("bulk-approve", views.bulk_approve, name="bulk_approve"),
    path("<str:submission_id>/", views.detail, name="detail"),
    path("<str:submission_id>/approve", views.approve, name="approve"),
    path("<str:submission_id>/reject", views.reject, name="reject"),
    path("<str:submission_id>/cancel", views.cancel, name="cancel"),
    path("<str:submission_id>/correct", views.correct, name="correct"),
    path("<str:submission_id>/correct-items", views.correct_items, name="correct_items"),
    path("<str:submission_id>/claim", views.claim, name="claim"),
    path("<str:submission_id>/comment", views.comment, name="comment"),
    path("<str:submission_id>/release", views.release, name="release"),
    path("<str:submission_id>/files/<int:index>", views.file_content, name="file"),
    path(
        "<str:submission_id>/files/<int:index>/pages/<int:page>.png",
        views.file_page,
        name="file_page",
    ),
]
