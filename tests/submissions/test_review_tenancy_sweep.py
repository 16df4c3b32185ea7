"""A hostile reviewer's sweep of the review desk's tenancy boundary (docs/security.md,
API1 and API5), as tests/steve/test_tenancy_sweep.py sweeps the API's.

Two companies, A and B, with a viewer, a reviewer, a lead and an admin each (B's admin
is staff too). A has a submission in review (claimed by A's reviewer, commented on, with
a file, its document text, an open fraud match and a freshly resolved one), the
submissions it matched and a sandbox submission. Every desk address that names an id is
then tried, with every method, plain and as htmx, by each of B's members: on A's ids,
on B's own submission with A's ids in the form or the path, and with A's ids in the
queue's filters. Each answer must be exactly the answer to the same request naming ids
that exist nowhere (the ids themselves aside, which pages repeat back as sent): the same
status, headers and page, redirects followed; never A's merchant, order number, file
name, text, reviewer or comment; A's rows as they were; and every answer framed by
nobody (X-Frame-Options and CSP frame-ancestors).

Environments are no boundary on the desk (a company's reviewers see both, the queue
filters by one: docs/environments.md); what the queue shows of each is checked here too.
CSRF is enforced on every POST of the desk, htmx or not, and a request from another
site is refused whatever token it carries.
"""

import re
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.base import VALID_KEY_CHARS
from django.test import Client
from django.utils import timezone
from django.utils.crypto import get_random_string

from fraud.models import FraudMatch
from steve.ids import ALPHABET, new_id
from steve.models import Company, Membership
from steve.services import workflow_publish
from submissions.models import (
    MerchantMemory,
    Submission,
    SubmissionEvent,
    SubmissionFile,
    SubmissionStatus,
)
from submissions.services import Actor, submission_claim, submission_comment
from tests import factories
from tests.submissions.test_review_support import flag, submission_with_file

pytestmark = pytest.mark.django_db

R = Membership.Role
ONLY_A = "a-only-expenses"  # a workflow slug company B does not have
# What A's objects carry that no answer to B may repeat.
A_SECRETS = (
    "A-merchant-secret",
    "order-a-secret",
    "a-secret-receipt.png",
    "A-document-text-secret",
    "A-metadata-secret",
    "a-holder-secret",
    "A-comment-secret",
    "Acme A secret",
    "A-sandbox-merchant-secret",
)


@dataclass
class World:
    a: Company
    b: Company
    a_members: dict[str, Any]
    b_members: dict[str, Any]
    ids: dict[str, str]  # A's objects, by the name routes use
    own: Submission  # B's own submission in review


@pytest.fixture
def world() -> World:
    a = factories.CompanyFactory(name="Acme A secret", slug="acme-a")
    b = factories.CompanyFactory(name="Company B", slug="company-b")
    invoice = factories.default_workflows(a)[1]
    workflow_publish(
        company=a,
        slug=ONLY_A,
        name="A-only expenses",
        kind=invoice.kind,
        upload=invoice.upload,
        output_schema=invoice.output_schema,
        review_threshold=80,
    )
    a_members = {
        role: factories.member(a, role, username=f"a-{role}") for role in (R.LEAD, R.VIEWER)
    }
    a_members[R.REVIEWER] = factories.member(a, R.REVIEWER, username="a-holder-secret")
    a_members[R.ADMIN] = factories.member(a, R.ADMIN, username="a-admin", is_staff=True)
    # B's admin is staff: the admin is still no way into A's rows (SteveAdminSite).
    b_members = {
        role: factories.member(b, role, username=f"b-{role}", is_staff=role == R.ADMIN)
        for role in R.values
    }
    sub = submission_with_file(
        a,
        extracted_data={"merchantName": "A-merchant-secret", "totalAmount": 41.5},
        client_submission_id="order-a-secret",
        metadata={"note": "A-metadata-secret"},
        pages_text=["A-document-text-secret\nTOTAL 41.50"],
    )
    SubmissionFile.objects.filter(submission=sub).update(label="a-secret-receipt.png")
    target = submission_with_file(
        a,
        status=SubmissionStatus.APPROVED,
        extracted_data={"merchantName": "A-merchant-secret"},
        client_submission_id="order-a-secret-earlier",
    )
    match = flag(sub, target)
    earlier = submission_with_file(a, status=SubmissionStatus.APPROVED)
    resolved = FraudMatch.objects.create(
        company=a,
        submission=sub,
        target_submission=earlier,
        check_type=FraudMatch.CheckType.DATA,
        score=70.0,
        similarity=0.8,
        resolution=FraudMatch.Resolution.FALSE_POSITIVE,
        resolved_by="a-holder-secret",
        resolved_at=timezone.now(),
    )
    sandbox = submission_with_file(
        a,
        environment="sandbox",
        extracted_data={"merchantName": "A-sandbox-merchant-secret", "totalAmount": 3},
        client_submission_id="order-a-secret-sandbox",
    )
    holder = a_members[R.REVIEWER]
    submission_claim(submission_id=sub.pk, user=holder)
    submission_comment(submission_id=sub.pk, actor=Actor.for_user(holder), text="A-comment-secret")
    memory = MerchantMemory.objects.create(
        company=a, key="gst:a-secret", field="merchantName", value="A-merchant-secret"
    )
    own = submission_with_file(b, client_submission_id="b-own")
    sub.refresh_from_db()
    ids = {
        "sub": sub.pk,
        "target": target.pk,
        "match": match.pk,
        "resolved": resolved.pk,
        "sandbox": sandbox.pk,
        "company": a.pk,
        "memory": memory.pk,
        "file": sub.files.get().pk,
    }
    return World(a, b, a_members, b_members, ids, own)


PREFIXES = {
    "sub": "sub",
    "target": "sub",
    "match": "fm",
    "resolved": "fm",
    "sandbox": "sub",
    "company": "cmp",
    "memory": "mem",
    "file": "file",
}


def missing_ids(like: dict[str, str]) -> dict[str, str]:
    """Ids that exist nowhere, each a twin of A's: made in the same millisecond, so it
    sorts among B's rows where A's does (the queue pages by id: `?after=`)."""
    twins = {}
    for name, prefix in PREFIXES.items():
        at_ms = decode_time(like[name].removeprefix(f"{prefix}_")[:10])
        twins[name] = new_id(prefix, at_ms=at_ms)
    return twins


def decode_time(encoded: str) -> int:
    """The milliseconds an id's time part holds (steve.ids: base 32, highest digit first)."""
    value = 0
    for char in encoded:
        value = value * 32 + ALPHABET.index(char)
    return value


def correction(name: str) -> dict[str, Any]:
    return {"version": "{version}", "field": name, "value": "Evil Corp"}


# Every desk address that names an object, with the form a POST to it would carry.
# {own} is B's own submission: A's ids then travel in the form or the path's second id.
ROUTES: list[tuple[str, dict[str, Any]]] = [
    ("/review/{sub}/", {}),
    ("/review/{sub}/?part=side", {}),
    ("/review/{sandbox}/", {}),
    ("/review/{sub}/files/0", {}),
    ("/review/{sub}/files/0/pages/0.png", {}),
    ("/review/{sub}/files/0/pages/0.png?rotate=90", {}),
    ("/review/{sandbox}/files/0", {}),
    ("/review/{sub}/approve", {"version": "{version}"}),
    ("/review/{sub}/reject", {"version": "{version}", "reason": "Evil reason"}),
    ("/review/{sub}/cancel", {"version": "{version}", "reason": "Evil reason"}),
    ("/review/{sub}/correct", correction("merchantName")),
    (
        "/review/{sub}/correct-items",
        {"version": "{version}", "description-0": "Evil", "quantity-0": "1", "amount-0": "9"},
    ),
    ("/review/{sub}/claim", {"take_over_from": "a-holder-secret"}),
    ("/review/{sub}/release", {"mine": "1"}),
    ("/review/{sub}/comment", {"text": "Evil comment", "form_token": ""}),
    ("/review/{sub}/fraud", {}),
    (
        "/review/{sub}/fraud/resolve",
        {"version": "{version}", "resolution": "false_positive", "match": ["{match}"]},
    ),
    ("/review/{sub}/fraud/undo", {"version": "{version}", "match": ["{resolved}"]}),
    (
        "/review/{sub}/fraud/{match}/resolve",
        {"version": "{version}", "resolution": "confirmed_fraud", "reason": "Evil"},
    ),
    ("/review/{sub}/compare/{target}", {}),
    ("/review/{own}/compare/{sub}", {}),
    ("/review/{sub}/compare/{own}", {}),
    (
        "/review/{own}/fraud/{match}/resolve",
        {"version": "{own_version}", "resolution": "false_positive"},
    ),
    (
        "/review/{own}/fraud/resolve",
        {"version": "{own_version}", "resolution": "false_positive", "match": ["{match}"]},
    ),
    ("/review/{own}/fraud/undo", {"version": "{own_version}", "match": ["{resolved}"]}),
    ("/review/?q={sub}", {}),
    ("/review/?q={sandbox}&environment=sandbox&status=all", {}),
    ("/review/rows?after={sub}", {}),
    ("/review/rows?upto={sub}&status=all", {}),
    ("/review/{own}/?q={sub}", {}),
    ("/review/bulk-approve", {"pick": ["{sub}:{version}", "{sandbox}:1"]}),
    ("/review/bulk-approve?environment=sandbox", {"pick": ["{sandbox}:1"]}),
    ("/accounts/company/", {"company": "{company}"}),
]
METHODS = ("get", "head", "options", "post", "put", "patch", "delete")
# Sent as the desk's own htmx requests are (base.html's hx-headers and htmx's own).
HTMX = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/review/"}

COMPARED_HEADERS = (
    "Content-Type",
    "Content-Disposition",
    "Allow",
    "Location",
    "Cache-Control",
    "X-Frame-Options",
    "Content-Security-Policy",
    "HX-Trigger",
    "HX-Redirect",
    "HX-Replace-Url",
    "X-CSRF-Token",
)
# What differs between two renders of one page for one reader: masked CSRF tokens, the
# comment form's one-time token, the clock.
VOLATILE = [
    (re.compile(r"[A-Za-z0-9]{64}"), "{csrf}"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "{uuid}"),
    (re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d(:\d\d)?(\.\d+)?"), "{time}"),
]


def filled(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, list):
        return [filled(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: filled(v, ids) for k, v in value.items()}
    return value


def without_ids(text: str, ids: dict[str, str]) -> str:
    for name, value in sorted(ids.items(), key=lambda item: -len(item[1])):
        text = text.replace(value, "{" + name + "}")
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)
    return text


def normalised(response, ids: dict[str, str]) -> tuple:
    """A response with its redirects, as what must not differ between a foreign id and a
    missing one: the ids it was asked about are named by role."""
    chain = [
        (without_ids(url, ids), status) for url, status in getattr(response, "redirect_chain", [])
    ]
    headers = {name: without_ids(response.get(name, ""), ids) for name in COMPARED_HEADERS}
    return response.status_code, chain, headers, without_ids(body_of(response), ids)


def body_of(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode(errors="replace")
    return response.content.decode(errors="replace")


def signed_in(user, **client_options: Any) -> Client:
    client = Client(**client_options)
    client.force_login(user)
    return client


@dataclass(frozen=True)
class SignedIn:
    """A user signed in once, whose sign-in each probe copies into a session of its own.

    A sign-in costs a dozen queries (a new session key, django-axes' access log, the last
    login) and the sweeps make thousands of probes; none of them is about signing in.
    The sessions are stored a batch at a time, in one insert: saved one by one, each cost
    a lookup of its key and an insert in a savepoint, a third of a probe's queries.
    """

    user: Any
    session: dict[str, Any]  # what the sign-in wrote: the user, its backend, its hash
    unused: list[str] = field(default_factory=list)  # keys of sessions stored, not given yet

    @classmethod
    def of(cls, user) -> "SignedIn":
        return cls(user, dict(signed_in(user).session.items()))

    def client(self) -> Client:
        """A new client in a new session, so no message or kept form of one probe is shown
        by the next."""
        if not self.unused:
            self.unused.extend(self._stored_sessions(SESSIONS_A_BATCH))
        client = Client()
        client.cookies[settings.SESSION_COOKIE_NAME] = self.unused.pop()
        return client

    def _stored_sessions(self, count: int) -> list[str]:
        store = import_module(settings.SESSION_ENGINE).SessionStore()
        # The rows SessionStore.save() writes, each under a key of its own.
        rows = [
            store.model(
                session_key=get_random_string(32, VALID_KEY_CHARS),
                session_data=store.encode(self.session),
                expire_date=store.get_expiry_date(),
            )
            for _ in range(count)
        ]
        store.model.objects.bulk_create(rows)
        return [row.session_key for row in rows]


SESSIONS_A_BATCH = 200


def probe(
    who: SignedIn, method: str, route: str, form: dict[str, Any], ids: dict[str, str], htmx: bool
):
    """One request of `who` (in a session of its own), redirects followed."""
    client = who.client()
    path = route.format(**ids)
    headers = {**HTMX, "HTTP_X_DRAWN_FOR": str(who.user.pk)} if htmx else {}
    data = filled(form, ids)
    if method == "post":
        response = client.post(path, data, follow=True, **headers)
    elif method in ("put", "patch", "delete"):
        body = urlencode(data, doseq=True)
        content_type = "application/x-www-form-urlencoded"
        response = getattr(client, method)(path, body, content_type=content_type, **headers)
    else:
        response = getattr(client, method)(path, follow=method == "get", **headers)
    # A copied sign-in that did not take would see the sign-in page for any id alike.
    assert response.wsgi_request.user.pk == who.user.pk, ("not signed in", method, path)
    return response


def snapshot() -> list:
    """A's data, and everything a probe could have changed."""
    return [
        list(
            Submission.objects.order_by("pk").values_list(
                "pk",
                "status",
                "version",
                "extracted_data",
                "claimed_by",
                "claimed_until",
                "reject_reason",
                "cancel_reason",
                "fraud_status",
            )
        ),
        list(SubmissionEvent.objects.order_by("pk").values_list("pk", "type", "details")),
        list(SubmissionFile.objects.order_by("pk").values_list("pk", "label", "purged_at")),
        list(
            FraudMatch.objects.order_by("pk").values_list(
                "pk", "resolution", "resolved_at", "resolution_version"
            )
        ),
        list(MerchantMemory.objects.order_by("pk").values_list("pk", "value", "times_wrong")),
        list(Membership.objects.order_by("pk").values_list("user", "company", "role")),
    ]


def framed_by_nobody(response) -> bool:
    return response.get("X-Frame-Options") == "DENY" and "frame-ancestors 'none'" in response.get(
        "Content-Security-Policy", ""
    )


def test_the_owners_reach_what_the_sweep_names(world):
    """The sweep names live objects whose pages do carry what it looks for."""
    lead = signed_in(world.a_members[R.LEAD])
    ids = world.ids
    page = lead.get(f"/review/{ids['sub']}/").content.decode()
    for secret in ("A-merchant-secret", "order-a-secret", "a-holder-secret", "A-comment-secret"):
        assert secret in page, secret
    assert "A-document-text-secret" in page and "A-metadata-secret" in page
    assert lead.get(f"/review/{ids['sub']}/files/0").status_code == 200
    assert lead.get(f"/review/{ids['sub']}/files/0/pages/0.png").status_code == 200
    panel = lead.get(f"/review/{ids['sub']}/fraud").content.decode()
    assert ids["match"] in panel and ids["resolved"] in panel
    assert lead.get(f"/review/{ids['sub']}/compare/{ids['target']}").status_code == 200
    assert ids["sub"] in lead.get(f"/review/?q={ids['sub']}").content.decode()
    sandbox = lead.get(f"/review/?environment=sandbox&q={ids['sandbox']}").content.decode()
    assert "A-sandbox-merchant-secret" in sandbox


@pytest.mark.parametrize("role", R.values)
def test_every_desk_address_answers_a_foreign_id_exactly_as_a_missing_one(world, role):
    intruder = SignedIn.of(world.b_members[role])
    own = {"own": world.own.pk, "own_version": str(world.own.version)}
    foreign_ids = {**world.ids, **own, "version": "1"}
    before = snapshot()
    leaks, unframed = [], []
    for route, form in ROUTES:
        for method in METHODS:
            for htmx in (False, True) if method in ("get", "post") else (False,):
                missing_ids_ = missing_ids(world.ids)
                missing_ask = {**missing_ids_, **own, "version": "1"}
                for _ in range(2):
                    foreign = probe(intruder, method, route, form, foreign_ids, htmx)
                    missing = probe(intruder, method, route, form, missing_ask, htmx)
                    seen = normalised(foreign, world.ids)
                    expected = normalised(missing, missing_ids_)
                    # A pair asked across a minute's turn differs in the ages it draws
                    # ("0m old", "1m old") on a loaded machine; a leak differs every time.
                    if seen == expected:
                        break
                text = body_of(foreign)
                if (
                    seen != expected
                    or foreign.status_code >= 500
                    or any(secret in text for secret in A_SECRETS)
                    or world.a.pk in text
                ):
                    leaks.append((method.upper(), htmx, route, seen[:3], expected[:3]))
                if not framed_by_nobody(foreign):
                    unframed.append((method.upper(), route))
    assert leaks == []
    assert unframed == []
    assert snapshot() == before


def test_a_path_naming_another_companys_submission_is_never_answered_as_found(world):
    """Beyond matching a missing id's answer: nobody of B gets anything but a refusal for
    a path naming A's submission (a 403 is the role's own, the same for any id)."""
    for role, user in world.b_members.items():
        intruder = SignedIn.of(user)
        for route, form in ROUTES:
            if not route.startswith(("/review/{sub}", "/review/{sandbox}")):
                continue
            for method in METHODS:
                ids = {**world.ids, "own": world.own.pk, "version": "1"}
                response = probe(intruder, method, route, form, ids, False)
                assert response.status_code in (403, 404, 405), (role, method, route)
                if response.status_code == 403:
                    assert "Not allowed" in body_of(response), (role, method, route)


@pytest.mark.parametrize("role", R.values)
def test_the_queue_stats_and_filters_show_nothing_of_another_company(world, role):
    intruder = signed_in(world.b_members[role])
    ids = world.ids
    reads = [
        "/review/",
        "/review/?status=all",
        "/review/?status=all&environment=sandbox",
        "/review/?status=approved",
        "/review/?fraud=flagged&status=all",
        "/review/?claims=free&status=all",
        f"/review/?workflow={ONLY_A}&status=all",
        "/review/?q=order-a-secret&status=all",
        "/review/?q=A-merchant-secret&status=all",
        "/review/?q=A-sandbox-merchant-secret&status=all&environment=sandbox",
        "/review/?sort=amount&status=all",
        "/review/?sort=fraud&status=all&environment=sandbox",
        "/review/rows?status=all",
        f"/review/rows?status=all&upto={ids['sandbox']}",
        "/review/stats",
        "/review/stats?environment=sandbox",
        f"/review/{world.own.pk}/?status=all&sort=-age",
        f"/review/{world.own.pk}/fraud",
        f"/review/{world.own.pk}/compare/{world.own.pk}",
        "/accounts/password/",
    ]
    for path in reads:
        response = intruder.get(path, HTTP_HX_REQUEST="true") if "rows" in path else None
        response = response or intruder.get(path)
        assert response.status_code in (200, 403), (path, response.status_code)
        text = response.content.decode()
        # The queue repeats what was searched for (the search box, the tabs' links): that
        # the reader wrote itself. Searching A's values finds no row at all.
        searched = parse_qs(urlsplit(path).query).get("q", [""])[0]
        if searched:
            text = text.replace(searched, "")
            assert 'data-id="sub_' not in text, path
        assert not any(value in text for value in (*A_SECRETS, *ids.values())), path
        assert framed_by_nobody(response), path
    # The company switcher offers B's own company only; naming A's is a missing one's 404.
    queue = intruder.get("/review/").content.decode()
    assert f'value="{world.b.pk}"' in queue or "Company B" in queue


def test_the_queue_keeps_each_environment_to_itself(world):
    """Environments are a filter of one company's queue, not a boundary between its
    reviewers: the production queue, counts and search show none of the sandbox's rows
    (and the other way round), and j/k stay within the environment."""
    lead = signed_in(world.a_members[R.LEAD])
    ids = world.ids
    production = lead.get("/review/?status=all").content.decode()
    assert row(ids["sub"]) in production and ids["sandbox"] not in production
    assert "A-sandbox-merchant-secret" not in production
    searched = lead.get(f"/review/?status=all&q={ids['sandbox']}").content.decode()
    assert row(ids["sandbox"]) not in searched and "A-sandbox-merchant-secret" not in searched
    sandbox = lead.get("/review/?status=all&environment=sandbox").content.decode()
    assert row(ids["sandbox"]) in sandbox and ids["sub"] not in sandbox
    assert "A-merchant-secret" not in sandbox
    searched = lead.get(f"/review/?status=all&environment=sandbox&q={ids['sub']}")
    assert row(ids["sub"]) not in searched.content.decode()
    # The sandbox submission's neighbours in the sandbox queue: none of production's.
    page = lead.get(f"/review/{ids['sandbox']}/?environment=sandbox&status=all").content.decode()
    assert ids["sub"] not in page and ids["target"] not in page


def test_a_membership_taken_away_ends_its_companys_access_at_the_next_request(world):
    """The company worked in is kept in the session; a member removed from it (a
    contractor's last day) sees it as missing at once, and lands in the company left."""
    user = factories.UserFactory(companies=[world.b, world.a])
    client = signed_in(user)
    assert client.post("/accounts/company/", {"company": world.a.pk}).status_code == 303
    assert client.get(f"/review/{world.ids['sub']}/").status_code == 200
    Membership.objects.filter(user=user, company=world.a).delete()
    gone = client.get(f"/review/{world.ids['sub']}/")
    assert gone.status_code == 404 and "A-merchant-secret" not in gone.content.decode()
    queue = client.get("/review/?status=all").content.decode()
    assert row(world.own.pk) in queue and world.ids["sub"] not in queue


def row(submission_id: str) -> str:
    """A queue row's markup (the search box repeats a searched id: that is no row)."""
    return f'data-id="{submission_id}"'


# --- CSRF --------------------------------------------------------------------------------

POSTS = [(route, form) for route, form in ROUTES if form and "{own}" not in route]


def csrf_client(user) -> Client:
    client = signed_in(user, enforce_csrf_checks=True)
    client.get("/review/")  # the page sets the CSRF cookie, as a browser's first visit
    return client


@pytest.mark.parametrize("role", [R.REVIEWER, R.LEAD])
def test_every_desk_post_without_its_token_is_refused_and_changes_nothing(world, role):
    """The owners' own posts, htmx or not, without the page's token: a 403, nothing done;
    a post from another site (its Origin) is refused even with the right token."""
    user = world.a_members[role]
    ids = {**world.ids, "version": str(Submission.objects.get(pk=world.ids["sub"]).version)}
    before = snapshot()
    for route, form in POSTS:
        path = route.format(**ids)
        client = csrf_client(user)
        token = client.cookies["csrftoken"].value
        data = filled(form, ids)
        attempts = [
            ("no token", data, {}),
            ("no token, htmx", data, {**HTMX, "HTTP_X_DRAWN_FOR": str(user.pk)}),
            ("wrong token", data, {"HTTP_X_CSRFTOKEN": "x" * 32}),
            (
                "other site",
                {**data, "csrfmiddlewaretoken": token},
                {"HTTP_ORIGIN": "https://evil.example", "HTTP_SEC_FETCH_SITE": "cross-site"},
            ),
            (
                "other site, htmx",
                data,
                {
                    **HTMX,
                    "HTTP_X_CSRFTOKEN": token,
                    "HTTP_ORIGIN": "https://evil.example",
                    "HTTP_SEC_FETCH_SITE": "cross-site",
                },
            ),
        ]
        for what, body, headers in attempts:
            response = client.post(path, body, **headers)
            assert response.status_code == 403, (what, route, response.status_code)
            assert framed_by_nobody(response), (what, route)
            if what.startswith("other site"):  # the desk's own page is handed a token
                assert "X-CSRF-Token" not in response, (what, route)
            assert snapshot() == before, (what, route)
    # The token is what was missing: with it the same client's comment goes through.
    client = csrf_client(user)
    token = client.cookies["csrftoken"].value
    response = client.post(
        f"/review/{ids['sub']}/comment", {"text": "With the token"}, HTTP_X_CSRFTOKEN=token
    )
    assert response.status_code == 303
    assert SubmissionEvent.objects.filter(details__text="With the token").exists()


def test_the_company_switch_and_sign_out_need_the_token(world):
    user = factories.UserFactory(companies=[world.a, world.b])
    client = csrf_client(user)
    assert client.post("/accounts/company/", {"company": world.b.pk}).status_code == 403
    assert client.session["review_company_id"] == world.a.pk
    assert client.post("/accounts/logout/").status_code == 403
    assert client.get("/review/").status_code == 200  # still signed in


# --- The admin ---------------------------------------------------------------------------


def test_the_admin_shows_company_staff_nothing_of_any_company(world):
    """The admin is for superusers only (SteveAdminSite): a company's admin-role staff,
    even with every model permission, get the sign-in page for A's rows exactly as for
    rows that do not exist, and change nothing."""
    from django.contrib.auth.models import Permission

    staff = world.b_members[R.ADMIN]
    staff.user_permissions.set(Permission.objects.all())
    staff = SignedIn.of(get_user_model().objects.get(pk=staff.pk))
    routes = [
        ("/admin/", {}),
        ("/admin/submissions/submission/", {}),
        ("/admin/submissions/submission/?q={sub}", {}),
        ("/admin/submissions/submission/{sub}/change/", {"status": "approved"}),
        ("/admin/submissions/submissionfile/{file}/change/", {}),
        ("/admin/fraud/fraudmatch/{match}/change/", {"resolution": "false_positive"}),
        ("/admin/steve/company/{company}/change/", {"name": "Evil"}),
        ("/admin/submissions/merchantmemory/{memory}/change/", {}),
        ("/admin/submissions/merchantmemory/{memory}/delete/", {"post": "yes"}),
        (
            "/admin/submissions/merchantmemory/",
            {"action": "forget", "_selected_action": ["{memory}"]},
        ),
    ]
    before = snapshot()
    for route, form in routes:
        for method in ("get", "post"):
            foreign = probe(staff, method, route, form, world.ids, False)
            missing_ids_ = missing_ids(world.ids)
            missing = probe(staff, method, route, form, missing_ids_, False)
            assert normalised(foreign, world.ids) == normalised(missing, missing_ids_), route
            assert foreign.redirect_chain[0][0].startswith("/admin/login/"), route
            assert not any(secret in body_of(foreign) for secret in A_SECRETS), route
            assert framed_by_nobody(foreign), route
    assert snapshot() == before


def test_forgetting_a_companys_memory_leaves_another_companys_same_shop_untouched(world, operator):
    """An operator forgets a value under every key of the company that holds it: never in
    another company, though its reviewers taught the same shop the same value (and set
    it aside under another key, where a forget also reaches)."""
    shared = {"field": "merchantName", "value": "Kedai Shared"}
    a_row = MerchantMemory.objects.create(company=world.a, key="gst:shared", **shared)
    MerchantMemory.objects.create(company=world.a, key="tel:0312", **shared)
    b_rows = [
        MerchantMemory.objects.create(company=world.b, key="gst:shared", **shared),
        MerchantMemory.objects.create(company=world.b, key="tel:0312", **shared),
        MerchantMemory.objects.create(
            company=world.b,
            key="reg:0001",
            field="merchantName",
            value="Kedai Later",
            previous=[{"value": "Kedai Shared", "times_right": 2, "times_wrong": 0}],
        ),
    ]
    b_before = list(
        MerchantMemory.objects.filter(company=world.b)
        .order_by("pk")
        .values_list("pk", "key", "value", "previous", "times_right", "times_wrong")
    )
    response = operator.post(
        "/admin/submissions/merchantmemory/", {"action": "forget", "_selected_action": [a_row.pk]}
    )
    assert response.status_code == 302
    assert not MerchantMemory.objects.filter(company=world.a, value="Kedai Shared").exists()
    b_after = list(
        MerchantMemory.objects.filter(company=world.b)
        .order_by("pk")
        .values_list("pk", "key", "value", "previous", "times_right", "times_wrong")
    )
    assert b_after == b_before and len(b_after) == len(b_rows)
