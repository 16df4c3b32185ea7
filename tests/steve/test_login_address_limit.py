"""Password spraying: failed sign-ins are limited per client address, across usernames.

django-axes locks a username after LOGIN_FAILURE_LIMIT failures; one or two passwords
tried against many usernames from one address never reached it for any of them.
"""

import re

import pytest
from django.test import Client

from tests import factories
from tests.redis_down import redis_down  # noqa: F401 - a fixture

pytestmark = pytest.mark.django_db
PASSWORD = "correct-horse-battery"
LOGIN_FORMS = ["/accounts/login/", "/admin/login/"]


@pytest.fixture
def limit(settings) -> int:
    settings.LOGIN_ADDRESS_FAILURE_LIMIT = 3
    settings.LOGIN_ADDRESS_WINDOW_MINUTES = 10
    return 3


def without_token(page: bytes) -> bytes:
    return re.sub(rb'"X-CSRFToken": "[^"]+"', b"", page)


def spray(client: Client, url: str, usernames: list[str]) -> list[int]:
    return [
        client.post(url, {"username": name, "password": "Summer2026!"}).status_code
        for name in usernames
    ]


@pytest.mark.parametrize("url", LOGIN_FORMS)
def test_spraying_many_usernames_from_one_address_is_refused_with_a_429_page(url, limit):
    factories.UserFactory(username="rita", is_staff=True, is_superuser=True)
    factories.UserFactory(username="sam", is_staff=True)
    attacker = Client(REMOTE_ADDR="203.0.113.50")
    # Each username is tried once: axes never locks any of them.
    assert spray(attacker, url, ["sam", "nobody", "alice"]) == [200, 200, 200]
    refused = attacker.post(url, {"username": "rita", "password": PASSWORD})
    assert refused.status_code == 429
    assert "_auth_user_id" not in attacker.session
    retry_after = int(refused["Retry-After"])
    assert 10 * 60 - 5 <= retry_after <= 10 * 60
    assert refused["Content-Type"].startswith("text/html")
    page = refused.content.decode()
    assert "Too many failed sign-ins from your address" in page
    assert "try again in 10 minutes" in page
    assert f'href="{url}"' in page


def test_the_refusal_does_not_tell_whether_the_username_exists(limit):
    factories.UserFactory(username="rita")
    attacker = Client(REMOTE_ADDR="203.0.113.51")
    spray(attacker, "/accounts/login/", ["a", "b", "c"])
    known = attacker.post("/accounts/login/", {"username": "rita", "password": "x"})
    unknown = attacker.post("/accounts/login/", {"username": "nobody", "password": "x"})
    assert known.status_code == unknown.status_code == 429
    # The same page but for the CSRF token, which is masked anew on every page.
    assert without_token(known.content) == without_token(unknown.content)
    assert known["Retry-After"] == unknown["Retry-After"]


def test_a_login_from_another_address_works_and_does_not_reset_the_refused_ones(limit):
    factories.UserFactory(username="rita")
    attacker = Client(REMOTE_ADDR="203.0.113.52")
    spray(attacker, "/accounts/login/", ["a", "b", "c"])
    honest = Client(REMOTE_ADDR="198.51.100.20")
    ok = honest.post("/accounts/login/", {"username": "rita", "password": PASSWORD})
    assert ok.status_code == 302
    assert spray(attacker, "/accounts/login/", ["d"]) == [429]


def test_a_success_does_not_reset_its_own_addresss_count(limit):
    """An attacker holding one valid account must not wipe the count between rounds."""
    factories.UserFactory(username="mallory")
    attacker = Client(REMOTE_ADDR="203.0.113.53")
    assert spray(attacker, "/accounts/login/", ["a", "b"]) == [200, 200]
    signed_in = attacker.post("/accounts/login/", {"username": "mallory", "password": PASSWORD})
    assert signed_in.status_code == 302
    attacker.logout()
    assert spray(attacker, "/accounts/login/", ["c", "d"]) == [200, 429]


def test_the_count_is_shared_by_the_review_and_the_admin_login(limit):
    attacker = Client(REMOTE_ADDR="203.0.113.54")
    assert spray(attacker, "/accounts/login/", ["a", "b"]) == [200, 200]
    assert spray(attacker, "/admin/login/", ["c", "d"]) == [200, 429]


def test_wrong_old_passwords_count_and_a_refused_address_cannot_try_the_password_form(limit):
    factories.UserFactory(username="rita")
    holder = Client(REMOTE_ADDR="203.0.113.55")
    holder.post("/accounts/login/", {"username": "rita", "password": PASSWORD})
    new = {
        "new_password1": "a-much-longer-passphrase-9",
        "new_password2": "a-much-longer-passphrase-9",
    }
    for n in range(limit):
        holder.post("/accounts/password/", {"old_password": f"guess-{n}", **new})
    refused = holder.post("/accounts/password/", {"old_password": PASSWORD, **new})
    assert refused.status_code == 429 and "Retry-After" in refused
    # The session is still signed in; the next login from the address is refused too.
    assert spray(Client(REMOTE_ADDR="203.0.113.55"), "/accounts/login/", ["x"]) == [429]


def test_a_signed_out_page_view_is_not_refused(limit):
    attacker = Client(REMOTE_ADDR="203.0.113.56")
    spray(attacker, "/accounts/login/", ["a", "b", "c"])
    assert attacker.get("/accounts/login/").status_code == 200


def test_behind_a_trusted_proxy_the_forwarded_client_is_counted_not_what_it_sent(settings, limit):
    settings.TRUSTED_PROXY_COUNT = 1
    # The client writes its own X-Forwarded-For, a new one each time; the proxy appends
    # the address it saw, the only entry counted.
    answers = [
        Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}, 203.0.113.57")
        .post("/accounts/login/", {"username": f"user{n}", "password": "x"})
        .status_code
        for n in range(limit + 1)
    ]
    assert answers == [200] * limit + [429]
    # Another client behind the same proxy is not refused.
    other = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.21")
    assert spray(other, "/accounts/login/", ["x"]) == [200]


def test_without_a_trusted_proxy_a_forwarded_header_is_ignored(settings, limit):
    settings.TRUSTED_PROXY_COUNT = 0
    answers = [
        Client(REMOTE_ADDR="203.0.113.58", HTTP_X_FORWARDED_FOR=f"192.0.2.{n}")
        .post("/accounts/login/", {"username": f"user{n}", "password": "x"})
        .status_code
        for n in range(limit + 1)
    ]
    assert answers == [200] * limit + [429]


def test_logins_are_not_limited_by_address_while_redis_is_down_but_usernames_still_lock(
    settings,
    limit,
    redis_down,  # noqa: F811
):
    """Fails open, as the API's rate limits do: the username lock-out (django-axes, in the
    database) still holds, and an outage of the cache must not lock every reviewer out."""
    factories.UserFactory(username="rita")
    factories.UserFactory(username="sam")
    client = Client(REMOTE_ADDR="203.0.113.59")
    assert spray(client, "/accounts/login/", [f"user{n}" for n in range(limit + 2)]) == [200] * (
        limit + 2
    )
    assert (
        client.post("/accounts/login/", {"username": "rita", "password": PASSWORD}).status_code
        == 302
    )
    client.logout()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post("/accounts/login/", {"username": "sam", "password": "nope"})
    assert (
        client.post("/accounts/login/", {"username": "sam", "password": PASSWORD}).status_code
        == 429
    )
