"""Reviewer sign-in and the company a reviewer works in.

Reviewers see the companies they are members of; staff may switch to any company.
The company being worked in is kept in the session, so every review page and partial
scopes its queries to it (and another company's URL is a 404, not a 403).
"""

from collections.abc import Callable
from functools import wraps
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render, resolve_url
from django.urls import path, reverse
from django.utils.functional import SimpleLazyObject
from django.views.decorators.http import require_POST

from steve.models import Company

SESSION_COMPANY_KEY = "review_company_id"

View = Callable[..., HttpResponse]


def available_companies(user: Any) -> QuerySet[Company]:
    if not user.is_authenticated:
        return Company.objects.none()
    if user.is_staff:
        return Company.objects.all()
    return Company.objects.filter(memberships__user=user)


def current_company(request: HttpRequest) -> Company | None:
    """The company chosen in the session, else the user's first one (then remembered)."""
    companies = available_companies(request.user)
    chosen = request.session.get(SESSION_COMPANY_KEY)
    company = companies.filter(pk=chosen).first() if chosen else None
    if company is None:
        company = companies.order_by("name").first()
        if company is not None:
            request.session[SESSION_COMPANY_KEY] = company.pk
    return company


def _htmx_login_redirect(request: HttpRequest) -> HttpResponse:
    """A poll or partial whose session ended: send the whole page to the login form,
    rather than letting htmx follow a redirect and swap the login page into a region."""
    current = urlsplit(request.headers.get("HX-Current-URL", ""))
    # Only the path and query of the page: never an absolute URL to another host.
    target = (current.path or request.path) + (f"?{current.query}" if current.query else "")
    response = HttpResponse(status=204)
    response["HX-Redirect"] = f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': target})}"
    return response


def company_required(view: View) -> View:
    """Login required, and a company to work in; the view finds it on request.company."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not request.user.is_authenticated:
            if getattr(request, "htmx", False):
                return _htmx_login_redirect(request)
            return redirect_to_login(request.get_full_path())
        company = current_company(request)
        if company is None:
            return render(request, "accounts/no_company.html", status=403)
        request.company = company
        return view(request, *args, **kwargs)

    return wrapper


@login_required
@require_POST
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

    return {
        "review_companies": SimpleLazyObject(companies),
        "review_company": SimpleLazyObject(company),
    }


app_name = "accounts"
urlpatterns = [
    path(
        "login/",
        auth_views.LoginView.as_view(redirect_authenticated_user=True),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password/",
        auth_views.PasswordChangeView.as_view(success_url="/accounts/password/done/"),
        name="password_change",
    ),
    path(
        "password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("company/", switch_company, name="switch_company"),
]
