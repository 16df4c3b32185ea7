"""The admin in a browser, under the same Content-Security-Policy as the review desk."""

from typing import Any

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from tests import factories
from tests.e2e.test_review_browser import PASSWORD, page_with_errors
from tests.submissions.test_review_support import submission_with_file
from webhooks.models import WebhookEndpoint

expect = pytest.importorskip("playwright.sync_api").expect

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def admin_pages(user: Any) -> list[str]:
    """Every registered model's list, add form (where one may add) and first object's
    change form."""
    request = RequestFactory().get("/admin/")
    request.user = user
    urls = [reverse("admin:index")]
    for model, model_admin in admin.site._registry.items():
        prefix = f"admin:{model._meta.app_label}_{model._meta.model_name}"
        urls.append(reverse(f"{prefix}_changelist"))
        if model_admin.has_add_permission(request):
            urls.append(reverse(f"{prefix}_add"))
        first = model._default_manager.first()
        if first is not None:
            try:
                urls.append(reverse(f"{prefix}_change", args=[first.pk]))
            except NoReverseMatch:
                continue
    return urls


def test_every_admin_page_runs_under_the_content_security_policy(chromium, live_server, team):
    submission_with_file(team["company"])
    root = factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    context, page, errors = page_with_errors(chromium)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    for url in admin_pages(root):
        response = page.goto(live_server.url + url)
        assert response is not None and response.status == 200, url
        assert "script-src 'self'" in response.headers["content-security-policy"], url
        # Any date and time pickers build their widgets in script.
        for shortcut in page.locator(".datetimeshortcuts a").all():
            shortcut.click()
    context.close()
    assert not errors


def test_the_redeliver_since_page_has_working_date_and_time_pickers(chromium, live_server, team):
    WebhookEndpoint.objects.create(company=team["company"], url="https://e.example/", secret="x")
    factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    context, page, errors = page_with_errors(chromium)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    page.goto(f"{live_server.url}/admin/webhooks/webhookendpoint/")
    page.locator("input.action-select").first.check()
    page.select_option("select[name=action]", "redeliver_failed_since")
    page.click("button[name=index]")
    expect(page.locator("input[name=apply]")).to_be_visible()
    # The pickers' script needs the admin's translation catalogue and core.js first; the
    # shortcut fills in the server's date.
    page.locator(".datetimeshortcuts a", has_text="Today").click()
    expect(page.locator("input[name=since_0]")).to_have_value(timezone.localdate().isoformat())
    page.locator(".datetimeshortcuts a", has_text="Now").click()
    expect(page.locator("input[name=since_1]")).not_to_have_value("")
    context.close()
    assert not errors


def test_the_api_docs_page_draws_swagger_ui_under_its_content_security_policy(
    chromium, live_server
):
    context, page, errors = page_with_errors(chromium)
    response = page.goto(f"{live_server.url}/api/docs")
    assert response is not None and response.status == 200
    assert "script-src 'self'" in response.headers["content-security-policy"]
    # Drawn from the schema it fetched: the title and an operation of the public API.
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Steve API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    page.locator(".opblock-summary").first.click()
    expect(page.locator(".opblock-body").first).to_be_visible()
    assert not errors, errors
    context.close()


def test_a_submissions_long_line_of_text_is_wrapped_within_its_row(chromium, live_server, team):
    """A line read with no space to break at (a barcode's digits) was one line of JSON in
    the page text's row, five times as wide as the row: the admin hides a row's overflow,
    so the rest of the line (and every page after it) could not be read or scrolled to."""
    submission = submission_with_file(
        team["company"], pages_text=[f"KEDAI ALI\n{'1234567890' * 60}\nTOTAL 9.99"]
    )
    factories.UserFactory(username="root", is_staff=True, is_superuser=True)
    context, page, errors = page_with_errors(chromium)
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "root")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_url("**/admin/")
    page.goto(
        live_server.url + reverse("admin:submissions_submission_change", args=[submission.pk])
    )
    expect(page.locator("pre.page-text")).to_contain_text("TOTAL 9.99")
    row = page.locator(".form-row.field-page_text")
    wide, shown = row.evaluate("row => [row.scrollWidth, row.clientWidth]")
    assert wide <= shown, (wide, shown)
    assert page.evaluate("document.documentElement.scrollWidth <= innerWidth")
    context.close()
    assert not errors
