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
]
