"""The review UI's routes, mounted at /review/ (the fraud panel's live in fraud.urls)."""

from django.urls import path

from submissions.views import actions, detail, files, queue, stats

app_name = "review"
urlpatterns = [
    path("", queue.queue, name="queue"),
    path("rows", queue.queue_rows, name="queue_rows"),
    path("stats", stats.stats, name="stats"),
    path("bulk-approve", queue.bulk_approve, name="bulk_approve"),
    path("<str:submission_id>/", detail.detail, name="detail"),
    path("<str:submission_id>/approve", actions.approve, name="approve"),
    path("<str:submission_id>/reject", actions.reject, name="reject"),
    path("<str:submission_id>/cancel", actions.cancel, name="cancel"),
    path("<str:submission_id>/correct", actions.correct, name="correct"),
    path("<str:submission_id>/correct-items", actions.correct_items, name="correct_items"),
    path("<str:submission_id>/claim", actions.claim, name="claim"),
    path("<str:submission_id>/comment", actions.comment, name="comment"),
    path("<str:submission_id>/release", actions.release, name="release"),
    path("<str:submission_id>/files/<int:index>", files.file_content, name="file"),
    path(
        "<str:submission_id>/files/<int:index>/pages/<int:page>.png",
        files.file_page,
        name="file_page",
    ),
]
