"""Signing out lands on the sign-in page, which says so: the page alone read like a
session that had expired or a sign-out that had not happened."""

from django.test import Client
from django.urls import reverse

SIGNED_OUT = "You are signed out."


def test_signing_out_says_so_on_the_sign_in_page(ui):
    response = ui.post(reverse("accounts:logout"), follow=True)
    assert response.redirect_chain == [(reverse("accounts:login"), 302)]
    html = response.content.decode()
    assert '<div class="messages" id="messages" role="status">' in html
    assert SIGNED_OUT in html
    # Said once: the sign-in page read again is a plain sign-in page.
    assert SIGNED_OUT not in ui.get(reverse("accounts:login")).content.decode()
    assert ui.get(reverse("review:queue")).status_code == 302


def test_signing_out_of_a_boosted_page_says_so_in_the_page_htmx_swaps_in(ui):
    response = ui.post(reverse("accounts:logout"), headers={"HX-Request": "true"}, follow=True)
    assert SIGNED_OUT in response.content.decode()


def test_the_sign_in_page_says_nothing_of_a_sign_out_that_did_not_happen():
    # No flag in the address: a link to "/accounts/login/?signed_out=1" says nothing.
    page = Client().get(reverse("accounts:login") + "?signed_out=1&loggedout=1")
    assert SIGNED_OUT not in page.content.decode()


def test_signing_out_never_sends_the_browser_to_another_site(ui):
    response = ui.post(reverse("accounts:logout"), {"next": "https://evil.example/steve"})
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:login")


def test_signing_out_tells_the_browser_to_drop_the_pages_it_kept(ui):
    # The desk's page images and originals are kept a day under versioned addresses
    # (submissions.page_cache.IMMUTABLE): a customer's documents on a shared machine.
    response = ui.post(reverse("accounts:logout"))
    assert response["Clear-Site-Data"] == '"cache"'
