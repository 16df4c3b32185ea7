"""The review page's fraud panel, mounted beside the review UI under /review/."""

from django.urls import path

from fraud import views

app_name = "fraud"
urlpatterns = [
    path("<str:submission_id>/fraud", views.panel, name="panel"),
    path("<str:submission_id>/fraud/resolve", views.resolve_pair, name="resolve_pair"),
    path("<str:submission_id>/fraud/undo", views.undo, name="undo"),
    path("<str:submission_id>/fraud/<str:match_id>/resolve", views.resolve, name="resolve"),
    path("<str:submission_id>/compare/<str:target_id>", views.compare, name="compare"),
]
