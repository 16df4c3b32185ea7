from django.contrib import admin
from django.templatetags.static import static
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularSwaggerSplitView

from steve import views

api_v1 = [
    path("", include("steve.api.urls")),
    path("", include("jobs.api.urls")),
    path("", include("fraud.api.urls")),
    path("", include("submissions.api.urls")),
    path("", include("webhooks.api.urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    # The OpenAPI schema and its docs page: public, no API key needed.
    path("api/v1/schema", views.SchemaView.as_view(), name="api-schema"),
    # Its start-up script from a URL (?script), not inline, so it runs under the desk's CSP.
    path(
        "api/docs",
        SpectacularSwaggerSplitView.as_view(
            url_name="api-schema", template_name="api/swagger_ui.html"
        ),
        name="api-docs",
    ),
    path("api/v1/", include(api_v1)),
    path("files/<str:token>", views.download, name="download"),
    path("healthz", views.healthz, name="healthz"),
    # Browsers ask for it on pages that name no icon (the admin's): a 404 in every console.
    path("favicon.ico", RedirectView.as_view(url=static("img/favicon.svg"), permanent=True)),
    # The review UI: fraud's panel first, so its routes win over a submission id.
    path("review/", include("fraud.urls")),
    path("review/", include("submissions.urls")),
    path("accounts/", include("steve.accounts")),
    path("", RedirectView.as_view(url="/review/", permanent=False)),
]

handler400 = "steve.views.handler400"
handler404 = "steve.views.handler404"
handler500 = "steve.views.handler500"
