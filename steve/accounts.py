"""Reviewer sign-in, the company a reviewer works in, and what their role allows.

Reviewers see only the companies they are members of, and start in their own;
superusers may switch to any company (the page says when they are not a member); plain
staff without a membership see nothing. The company being worked in is kept in the
session, so every review page and partial scopes its queries to it (and another
company's URL is a 404, not a 403). What a person may do there is membership_allows'
answer, from Membership.role.
"""

from collections.abc import Callable
from enum import StrEnum
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import user_login_failed
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.dispatch import Signal
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.middleware.csrf import get_token
from django.shortcuts import render, resolve_url
from django.urls import path, reverse
from django.utils.functional import SimpleLazyObject

from steve.loginlimit import refused_if_limited
from steve.models import Company, Membership

SESSION_COMPANY_KEY = "review_company_id"

View = Callable[..., HttpResponse]


class Action(StrEnum):
    VIEW = "view"  # queue, submission pages, files
    DECIDE = "decide"  # claim, correct, approve, reject, cancel, mark a false positive
    CONFIRM_FRAUD = "confirm_fraud"
    STATS = "stats"
    RELEASE_OTHERS = "release_others"  # free a submission someone else holds


R = Membership.Role
_LEAD = frozenset(Action)
ROLE_ACTIONS: dict[str, frozenset[Action]] = {
    R.VIEWER: frozenset({Action.VIEW}),
    R.REVIEWER: frozenset({Action.VIEW, Action.DECIDE}),
    R.LEAD: _LEAD,
    R.ADMIN: _LEAD,
}


def membership_role(user: Any, company: Company | None) -> str | None:
    """The user's role in the company; superusers act as leads everywhere."""
    if company is None or not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser:
        return R.LEAD
    cache = user.__dict__.setdefault("_steve_roles", {})
    if company.pk not in cache:
        membership = Membership.objects.filter(user=user, company=company).first()
        cache[company.pk] = membership.role if membership else None
    return cache[company.pk]


# The roles whose holders claim and decide at the desk: a claim is theirs only while
# they hold one of these in its company (superusers: everywhere).
DECIDING_ROLES = frozenset(
    role for role, allowed in ROLE_ACTIONS.items() if Action.DECIDE in allowed
)


def deciding_companies(user: Any) -> QuerySet[Company]:
    """The companies where `user` may decide now, as membership_allows answers it: every
    company for an active superuser, none for an inactive user. Read afresh, never from
    the per-request role cache: it is asked when a membership or an account changed."""
    if not user.is_active:
        return Company.objects.none()
    if user.is_superuser:
        return Company.objects.all()
    return Company.objects.filter(memberships__user=user, memberships__role__in=DECIDING_ROLES)


# Sent with `user_ids` inside the admin's deletion of those users, before it locks their
# rows: a receiver locks now what the deletion will change through them (the review
# side: the submissions they hold, whose claims it releases), in the order its own paths
# take, since those paths write rows naming the user (FOR KEY SHARE on its row) while
# holding them.
users_deleting = Signal()


def membership_allows(user: Any, company: Company | None, action: Action) -> bool:
    """The one permission check of the review UI: may this user do this here?"""
    role = membership_role(user, company)
    return role is not None and action in ROLE_ACTIONS.get(role, frozenset())


def available_companies(user: Any) -> QuerySet[Company]:
    """Superusers: every company. Everyone else, staff too: their memberships only."""
    if not user.is_authenticated:
        return Company.objects.none()
    if user.is_superuser:
        return Company.objects.all()
    return Company.objects.filter(memberships__user=user)


def home_company(user: Any) -> Company | None:
    """Where a session starts: the user's own company (their first membership), else,
    for a superuser without one, the first company by name."""
    own = Company.objects.filter(memberships__user=user).order_by("memberships__id").first()
    if own is not None or not user.is_superuser:
        return own
    return Company.objects.order_by("name").first()


def current_company(request: HttpRequest) -> Company | None:
    """The company chosen in the session, else the user's own (then remembered)."""
    chosen = request.session.get(SESSION_COMPANY_KEY)
    company = available_companies(request.user).filter(pk=chosen).first() if chosen else None
    if company is None:
        company = home_company(request.user)
        if company is not None:
            request.session[SESSION_COMPANY_KEY] = company.pk
    return company


SAFE_METHODS = ("GET", "HEAD", "OPTIONS")
SIGNED_OUT = "Your sign-in has expired. Sign in again, then retry."


def _htmx_login_redirect(request: HttpRequest) -> HttpResponse:
    """A poll or partial whose session ended: send the whole page to the login form,
    rather than letting htmx follow a redirect and swap the login page into a region."""
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    # Only the path and query of the page: never an absolute URL to another host.
    target = (current.path or request.path) + (f"?{current.query}" if current.query else "")
    response = HttpResponse(status=204)
    response["HX-Redirect"] = f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': target})}"
    return response


def _signed_out_post(request: HttpRequest) -> HttpResponse:
    """A plain form post (no JavaScript) after the sign-in ended: a 401 page that says
    nothing was saved or decided and shows what the form carried, as a refused CSRF check
    does. Redirected to the login form, the reviewer signed in again and landed on the
    page showing the stored value: the typed correction or reason was gone without a word.
    Signing in from here leads back through the form's address (post_or_open), filters
    kept. The CSRF check has passed, so the text is the reviewer's own."""
    context = {
        "typed": _typed_back(request, ""),
        # The view kept what was typed for the page signing in leads back to
        # (submissions.views.actions.kept_through_sign_in).
        "kept": getattr(request, "typed_kept", False),
        "sign_in": f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': request.get_full_path()})}",
    }
    return render(request, "accounts/signed_out.html", context, status=401)


def company_required(view: View) -> View:
    """Login required, and a company to work in; the view finds it on request.company."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            if getattr(request, "htmx", False) and request.method not in SAFE_METHODS:
                # A save or decision from a page whose sign-in ended: sending the page to
                # the login form would drop what the reviewer typed; the page says why.
                return HttpResponse(SIGNED_OUT, status=401, content_type="text/plain")
            if getattr(request, "htmx", False):
                return _htmx_login_redirect(request)
            if request.method not in SAFE_METHODS:
                return _signed_out_post(request)
            return redirect_to_login(request.get_full_path())
        if request.method not in SAFE_METHODS and drawn_for_another(request):
            return drawn_for_another_refusal(request)
        company = current_company(request)
        if company is None:
            return render(request, "accounts/no_company.html", status=403)
        request.company = company
        return view(request, *args, **kwargs)

    return wrapper


# The response header that hands an open page the current CSRF token (review.js).
CSRF_RENEWED_HEADER = "X-CSRF-Token"
# The request header with the id of the user a page was drawn for (base.html's hx-headers).
DRAWN_FOR_HEADER = "X-Drawn-For"


def drawn_for_another(request: HttpRequest) -> bool:
    """A page's htmx request after someone else signed in in another tab: it would act as
    them while the page still shows the old name. Nobody signed in is no one else: that
    request gets the sign-in answer (401, the kept work) as before."""
    drawn_for = request.headers.get(DRAWN_FOR_HEADER)
    signed_in = request.user.is_authenticated
    return signed_in and drawn_for is not None and drawn_for != str(request.user.pk)


def drawn_for_another_refusal(request: HttpRequest) -> HttpResponse:
    """A 403 telling the reviewer to reload; it hands over no CSRF token, so no retry from
    the old page goes through as the new user."""
    context = {"signed_in_as": request.user.get_username()}
    return render(request, "accounts/drawn_for_another.html", context, status=403)


# The form fields whose text a refused plain form post shows back (a correction, a
# reject, cancel or fraud reason, a comment; line items by _typed_rows), so nothing
# typed is lost with the refusal.
TYPED_FIELDS = ("value", "reason", "text")
# Each desk form sends the label its page shows for its typed box (`label`: a corrected
# field's schema title or key spelt out, "Reject reason", "Comment"…): a signed-out post
# has no company to look the workflow up in, and the reviewer knows the box by that label,
# not by its API or form name.
LABEL_MAX = 200
LINE_ITEM_PARTS = ("description", "quantity", "amount")


def _from_another_site(reason: str) -> bool:
    """Refused for its Origin or Referer: another site's page sent it, not one of ours."""
    return reason.startswith(("Origin checking", "Referer checking"))


def _typed_back(request: HttpRequest, reason: str) -> list[tuple[str, str]]:
    """What a refused form carried, labelled; none for a post from another site, whose
    text is not the reviewer's."""
    if _from_another_site(reason):
        return []
    typed = []
    for name in TYPED_FIELDS:
        text = request.POST.get(name, "").strip()
        if text:
            key = request.POST.get("field", "") if name == "value" else name.capitalize()
            label = _typed_label(request, key)
            typed.append((label or name, text))
    if rows := _typed_rows(request):
        typed.append(("Line items", rows))
    return typed


def _typed_label(request: HttpRequest, fallback: str) -> str:
    """The typed box as the page that sent it labelled it: each desk form sends its box's
    label (`label`: the corrected field's, or "Reject reason", "Comment"…); `fallback`
    from a page drawn without one."""
    label = request.POST.get("label", "").strip()[:LABEL_MAX]
    return label or fallback


def _typed_rows(request: HttpRequest) -> str:
    """The line-items form's rows (description-N, quantity-N, amount-N) as the page lists
    them ("Milk, 2 × 1.45; Bread, 1 × 1.10"), blank rows left out: a table of edits was
    the one thing the form carried that the refusal did not show."""
    rows = []
    n = 0
    # Django's limit on a request's fields (1000) bounds the rows a form can carry.
    while f"description-{n}" in request.POST or f"amount-{n}" in request.POST:
        row = [request.POST.get(f"{part}-{n}", "").strip() for part in LINE_ITEM_PARTS]
        if any(row):
            description, quantity, amount = row
            rows.append(f"{description}, {quantity} × {amount}")
        n += 1
    return "; ".join(rows)


def _page_of(request: HttpRequest) -> str:
    """The submission page a desk action was posted from, else the queue."""
    match = request.resolver_match
    submission_id = match.kwargs.get("submission_id") if match else None
    if submission_id:
        return reverse("review:detail", args=[submission_id])
    return reverse("review:queue")


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    """A 403 that says what happened, and for an htmx request the current token too
    (CSRF_FAILURE_VIEW).

    A sign-in rotates the token: a page drawn before the reviewer signed in again (in
    another tab, as the expired-sign-in banner asks) carries the old one. The page's
    htmx request gets the current token in a header and review.js sends it again, once,
    with it; only the page's own scripts read a response header (same origin), so handing
    the token over gives nothing away. It is never handed to a page drawn for someone
    else (drawn_for_another), nor to a request from another site (refused for its Origin
    or Referer, whatever token it carried): the desk's own page is never refused for
    those, so such a request is answered as a plain one. A plain form post (no
    JavaScript) gets a page that says nothing was saved, shows what the form carried and
    leads back to the page.
    """
    if drawn_for_another(request):
        return drawn_for_another_refusal(request)
    context = {
        "typed": _typed_back(request, reason),
        "back": _page_of(request),
        "reason": reason,
    }
    response = render(request, "accounts/csrf_failure.html", context, status=403)
    if getattr(request, "htmx", False) and not _from_another_site(reason):
        response[CSRF_RENEWED_HEADER] = get_token(request)
    return response


def not_allowed(request: HttpRequest, action: Action) -> HttpResponse:
    context = {"action": action.value.replace("_", " ")}
    return render(request, "accounts/not_allowed.html", context, status=403)


def allowed(action: Action) -> Callable[[View], View]:
    """company_required, and a 403 page unless the user's role allows `action` there."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if not membership_allows(request.user, request.company, action):
                return not_allowed(request, action)
            return view(request, *args, **kwargs)

        return company_required(guarded)

    return decorate


def post_or_open(page: Callable[..., str]) -> Callable[[View], View]:
    """A form's POST action whose address, fetched by GET, opens `page(request, *args)`.

    Without JavaScript a form posted after the sign-in expired goes to the login form with
    its own address as `next`; signing in again then GETs it, and a 405 there lost the
    reviewer's place. The page it opens is where the form was, with the queue's filters."""

    def decorate(view: View) -> View:
        @wraps(view)
        def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.method == "GET":
                return HttpResponseRedirect(page(request, *args, **kwargs))
            if request.method != "POST":
                return HttpResponseNotAllowed(["GET", "POST"])
            return view(request, *args, **kwargs)

        return wrapper

    return decorate


@login_required
@post_or_open(lambda request: reverse("review:queue"))
def switch_company(request: HttpRequest) -> HttpResponse:
    company = available_companies(request.user).filter(pk=request.POST.get("company")).first()
    if company is None:
        return render(request, "accounts/no_company.html", status=404)
    request.session[SESSION_COMPANY_KEY] = company.pk
    # The old page may show another company's submission: start from the queue.
    return HttpResponseRedirect(reverse("review:queue"), status=303)


def review_context(request: HttpRequest) -> dict[str, Any]:
    """Template context for the review layout; lazy, so other pages pay nothing."""

    def companies() -> list[Company]:
        return list(available_companies(request.user).order_by("name"))

    def company() -> Company | None:
        return getattr(request, "company", None)

    def can() -> dict[str, bool]:
        here = getattr(request, "company", None)
        return {a.value: membership_allows(request.user, here, a) for a in Action}

    def visiting() -> bool:
        """A superuser looking at a company they are not a member of: said on every page."""
        here = getattr(request, "company", None)
        return bool(
            here is not None
            and request.user.is_superuser
            and not Membership.objects.filter(user=request.user, company=here).exists()
        )

    return {
        "review_companies": SimpleLazyObject(companies),
        "review_company": SimpleLazyObject(company),
        "review_can": SimpleLazyObject(can),
        "review_visiting": SimpleLazyObject(visiting),
    }


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """A wrong old password counts as a failed sign-in of that username (django-axes):
    the form was an oracle that tried passwords without limit for whoever held a signed-in
    session (a borrowed browser, a stolen cookie). Once locked, no old password is tried."""

    def __init__(self, *args: Any, request: HttpRequest, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        from axes.handlers.proxy import AxesProxyHandler

        credentials = {"username": self.user.get_username()}
        if AxesProxyHandler.is_locked(self.request, credentials):
            minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
            raise forms.ValidationError(
                f"Too many wrong passwords: try again in {minutes} minutes.", code="locked"
            )
        try:
            return super().clean_old_password()
        except forms.ValidationError:
            user_login_failed.send(sender=__name__, credentials=credentials, request=self.request)
            raise


class PasswordChangeView(auth_views.PasswordChangeView):
    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self) -> dict[str, Any]:
        return {**super().get_form_kwargs(), "request": self.request}


class LogoutView(auth_views.LogoutView):
    """Signs out and says so on the sign-in page it lands on, which alone read like an
    expired session or a sign-out that had not happened. A message, not a flag in the
    address: a link can carry a flag, and LogoutView already refuses a `next` off Steve."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        # After the sign-out: it flushed the session, and the message goes with the new one.
        messages.success(request, "You are signed out.")
        # The review desk's page images and originals are kept by the browser for a day
        # (versioned addresses): a customer's documents, on what may be a shared machine.
        response["Clear-Site-Data"] = '"cache"'
        return response


app_name = "accounts"
urlpatterns = [
    path(
        "login/",
        refused_if_limited(auth_views.LoginView.as_view(redirect_authenticated_user=True)),
        name="login",
    ),
    path("logout/", LogoutView.as_view(), name="logout"),
    path(
        "password/",
        refused_if_limited(PasswordChangeView.as_view(success_url="/accounts/password/done/")),
        name="password_change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("company/", switch_company, name="switch_company"),
]
