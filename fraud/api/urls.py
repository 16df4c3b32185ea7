from django.urls import path

from fraud.api import views

urlpatterns = [
    path(
        "submissions/<str:submission_id>/fraud-matches",
        views.FraudMatchListView.as_view(),
        name="fraud-match-list",
    ),
    path(
        "submissions/<str:submission_id>/fraud-matches/<str:match_id>/resolve",
        views.FraudMatchResolveView.as_view(),
        name="fraud-match-resolve",
    ),
]
