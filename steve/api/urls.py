from django.urls import path

from steve.api import views

urlpatterns = [
    path("workflows", views.WorkflowListView.as_view(), name="workflow-list"),
    path("workflows/<slug:slug>", views.WorkflowDetailView.as_view(), name="workflow-detail"),
    path(
        "workflows/<slug:slug>/versions/<int:version>",
        views.WorkflowVersionView.as_view(),
        name="workflow-version",
    ),
    # Last, so only what the routes above refuse: answered with their documented 404.
    path("workflows/<str:slug>", views.WorkflowPathNotFoundView.as_view()),
    path("workflows/<str:slug>/versions/<str:version>", views.WorkflowPathNotFoundView.as_view()),
]
