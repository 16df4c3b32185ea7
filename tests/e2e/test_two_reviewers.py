"""Two reviewers of one company on one submission, a sign-in that lapses mid-typing, and
the development server (DEBUG) answering as production does: whoever loses is told, and
nothing typed is lost."""

from typing import Any

import pytest

from steve.models import Membership
from submissions.models import Submission
from tests import factories
from tests.e2e.test_review_browser import open_page
from tests.e2e.test_review_desk import fraud_panel_loaded, low_total

expect = pytest.importorskip("playwright.sync_api").expect
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def team(transactional_db, browser_settings) -> dict[str, Any]:
    company = factories.CompanyFactory(name="Kedai Group")
    alice = factories.UserFactory(username="alice", companies=[company])
    bob = factories.UserFactory(username="bob", companies=[company])
    return {"company": company, "alice": alice, "bob": bob}


def test_on_the_dev_server_a_refused_save_keeps_the_page_and_what_was_typed(
    chromium, live_server, team, settings
):
    settings.DEBUG = True  # ./scripts/dev
    submission = low_total(team["company"])
    context, page, _ = open_page(chromium, live_server, team["alice"])
    page.goto(f"{live_server.url}/review/{submission.pk}/")
    fraud_panel_loaded(page)
    field = page.locator("#field-totalAmount")
    field.fill("60.00")

    # A 400 (an incomplete form) is swapped in as production swaps it: the refusal, in place.
    page.evaluate("document.querySelector('tr[data-field=totalAmount] [name=version]').remove()")
    field.press("Enter")
    expect(page.locator("[data-refusal]")).to_contain_text("The form was incomplete")
    expect(field).to_have_value("60.00")

    # A 403 (her role was lowered meanwhile) is a banner; the page and the text stay.
    Membership.objects.filter(user=team["alice"]).update(role=Membership.Role.VIEWER)
    field.press("Enter")
    expect(page.locator("#request-error")).to_contain_text("(403)")
    expect(field).to_have_value("60.00")
    expect(page.locator("#side")).to_be_visible()
    assert Submission.objects.get(pk=submission.pk).extracted_data["totalAmount"] == 54.2
    context.close()
