from django.urls import path

from webhooks.api import views

urlpatterns = [
    path("webhook-endpoints", views.EndpointListView.as_view(), name="webhook-endpoint-list"),
    path(
        "webhook-endpoints/session-secret",
        views.SessionSecretView.as_view(),
        name="webhook-session-secret",
    ),
    path(
        "webhook-endpoints/session-secret/rotate",
        views.SessionSecretRotateView.as_view(),
        name="webhook-session-secret-rotate",
    ),
    path(
        "webhook-endpoints/sync-secret",
        views.SyncSecretView.as_view(),
        name="webhook-sync-secret",
    ),
    path(
        "webhook-endpoints/sync-secret/rotate",
        views.SyncSecretRotateView.as_view(),
        name="webhook-sync-secret-rotate",
    ),
    path(
        "webhook-endpoints/<str:endpoint_id>",
        views.EndpointDetailView.as_view(),
        name="webhook-endpoint-detail",
    ),
    path(
        "webhook-endpoints/<str:endpoint_id>/rotate-secret",
        views.EndpointRotateView.as_view(),
        name="webhook-endpoint-rotate-secret",
    ),
    path(
        "webhook-endpoints/<str:endpoint_id>/redeliver",
        views.EndpointRedeliverView.as_view(),
        name="webhook-endpoint-redeliver",
    ),
    path(
        "webhook-endpoints/<str:endpoint_id>/deliveries",
        views.EndpointDeliveriesView.as_view(),
        name="webhook-endpoint-deliveries",
    ),
    path(
        "webhook-deliveries/<str:delivery_id>",
        views.DeliveryDetailView.as_view(),
        name="webhook-delivery-detail",
    ),
    path(
        "webhook-deliveries/<str:delivery_id>/redeliver",
        views.DeliveryRedeliverView.as_view(),
        name="webhook-delivery-redeliver",
    ),
    path("webhooks/test", views.WebhookTestView.as_view(), name="webhook-test"),
]
