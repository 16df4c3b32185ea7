"""The submission page's POST actions: decide (approve, reject, cancel), correct fields
and line items, claim and release, comment.

A decision goes on to the next waiting submission; an in-page change gives htmx the side
column back; a refusal goes back to the page with its reason (Post/Redirect/Get).
"""

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import SESSION_KEY
from django.http import HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from steve.accounts import Action, allowed, company_required, membership_allows, not_allowed
from steve.errors import ServiceError
from submissions.forms import ApproveForm, CancelForm, CorrectionForm, LineItemsForm, RejectForm
from submissions.models import Submission
from submissions.selectors import queue_next_waiting
from submissions.services import (
    MAX_LINE_ITEMS,
    Actor,
    FieldChangedError,
    LineItemRow,
    changed_since_said,
    claim_is_live,
    may_release_claim,
    refuse_others_claim,
    submission_approve,
    submission_cancel,
    submission_claim,
    submission_comment,
    submission_correct_field,
    submission_correct_line_items,
    submission_reject,
    submission_release_claim,
)
from submissions.views.common import (
    TYPED_MAX,
    own_submission,
    queue_query,
    submission_queue_filters,
    tell_the_page,
)
from submissions.views.detail import REFUSAL_KEY, detail_context, field_text, page_url

# Rows read from the line-items form: the most the service takes, the page's blank row
# and one more, so that a longer list is refused with a message, never cut short (three
# fields a row stays under Django's 1000-field limit).
MAX_LINE_ITEM_ROWS = MAX_LINE_ITEMS + 2


def _kept(text: str, cut: list[dict[str, Any]], *, what: str) -> str:
    """A typed text as it comes back to the page a refused plain post is sent to: up to
    TYPED_MAX characters; past that, the page is told (cut) how much was sent, as the
    reviewer shortening what they see cannot know its end is gone. `what` names the
    text ("reject reason"; a correction's field name, which the page labels)."""
    if len(text) > TYPED_MAX:
        cut.append({"what": what, "sent": len(text)})
    return text[:TYPED_MAX]


def _typed_reject(request: HttpRequest) -> dict[str, Any]:
    """The reason typed and the one picked from the list: both come back with a refusal."""
    cut: list[dict[str, Any]] = []
    return {
        "reject_reason": _kept(request.POST.get("reason", ""), cut, what="reject reason"),
        "reject_preset": request.POST.get("preset", "")[:500],
        "cut": cut,
    }


def _typed_cancel(request: HttpRequest) -> dict[str, Any]:
    cut: list[dict[str, Any]] = []
    return {
        "cancel_reason": _kept(request.POST.get("reason", ""), cut, what="cancel reason"),
        "cut": cut,
    }


def _typed_correction(request: HttpRequest) -> dict[str, Any]:
    """The field and the value typed for it; none without a field to put it back in."""
    field = request.POST.get("field", "")[:100]
    if not field:
        return {}
    cut: list[dict[str, Any]] = []
    # What comes back to a plain post: bounded (the whole value went into the session).
    value = _kept(request.POST.get("value", ""), cut, what=f"field:{field}")
    return {"field": field, "value": value, "cut": cut}


def _typed_items(request: HttpRequest) -> dict[str, Any]:
    """The line-items form's rows as typed. A cleared row keeps its place (up to the last
    typed one): the refusal names rows as the form numbers them, and the page comes back
    with the refused one where it was."""
    rows = [[r.description, r.quantity, r.amount] for r in _line_item_rows(request)]
    while rows and not any(v.strip() for v in rows[-1]):
        rows.pop()
    cut: list[dict[str, Any]] = []
    for n in range(len(rows)):
        # The rows were read cut already: the note needs what was sent.
        _kept(request.POST.get(f"description-{n}", ""), cut, what=f"description in row {n + 1}")
    return {"rows": rows, "cut": cut}


def _typed_comment(request: HttpRequest) -> dict[str, Any]:
    cut: list[dict[str, Any]] = []
    return {"comment": _kept(request.POST.get("text", ""), cut, what="comment"), "cut": cut}


# What the page a signed-out plain post's text is kept for says once signed in again.
KEPT_THROUGH_SIGN_IN = (
    "Your sign-in had expired, so this was not saved. What you typed is back in its box:"
    " check it and save it again."
)


def kept_through_sign_in(
    typed: Callable[[HttpRequest], dict[str, Any]],
) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """A plain form post (no JavaScript) sent after the sign-in ended is refused (401,
    company_required) and its page listed what was typed, to be copied by hand: signing
    in again led back to the page showing the stored value. What was typed is kept in the
    session the reviewer signs in with (Django's login keeps an anonymous session's data)
    and goes back into its box there, as a refused save's does. htmx keeps it in the page.

    Only past the CSRF check (the middleware's, before any view): the text is the
    reviewer's own, from one of Steve's pages, as the 401 page already shows it."""

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapper(
            request: HttpRequest, submission_id: str, *args: Any, **kwargs: Any
        ) -> HttpResponse:
            owner = None
            if not request.user.is_authenticated and not request.htmx:
                owner = _ended_sign_in_user(request)
            if owner is not None:
                kept = typed(request)
                if "field" in kept or "rows" in kept:
                    # Another may save that field before the sign-in: its Save is checked
                    # at the version it was typed on, as a claim button's carried one is.
                    kept |= _typed_at(request)
                if _has_text(kept):
                    request.session[REFUSAL_KEY] = {
                        "id": submission_id[:100],
                        "message": KEPT_THROUGH_SIGN_IN,
                        "typed": kept,
                        "plain": True,
                        # Given back to this user only (detail's _pop_refusal): a sign-in
                        # keeps the session's data whoever signs in.
                        "user": owner,
                    }
                    request.typed_kept = True  # the 401 page says it will come back
            return view(request, submission_id, *args, **kwargs)

        return wrapper

    return decorate


def _ended_sign_in_user(request: HttpRequest) -> str | None:
    """The user whose sign-in the browser's session cookie names, ended now (the server
    keeps the expired row until it is cleared), or the owner of the text an earlier post
    of this signed-out browser kept; else None, and nothing is kept. Anyone can fetch a
    CSRF token, and without a session the server made each anonymous post wrote up to a
    megabyte of rows into a new session, a store anyone could fill. A browser signed out
    on purpose has no such session any more, and its page still shows what was typed.

    The owner goes with the text: Django's login keeps an anonymous session's data, so on
    a shared browser the next reviewer to sign in was given the last one's text, in its
    box and "not saved", to save as their own."""
    key = request.COOKIES.get(settings.SESSION_COOKIE_NAME)
    if not key:
        return None
    earlier = request.session.get(REFUSAL_KEY)  # loads it: a live session keeps its key
    if request.session.session_key == key:
        owner = earlier.get("user") if isinstance(earlier, dict) else None
        return owner if isinstance(owner, str) else None
    model = getattr(request.session, "model", None)  # a database-backed store's
    row = model.objects.filter(session_key=key).first() if model is not None else None
    owner = row.get_decoded().get(SESSION_KEY) if row is not None else None
    return str(owner) if owner is not None else None


def _has_text(typed: dict[str, Any]) -> bool:
    texts = [v for k, v in typed.items() if k not in {"field", "cut"} and isinstance(v, str)]
    return any(t.strip() for t in texts) or any(any(r) for r in typed.get("rows") or [])


@company_required
def _open_page(request: HttpRequest, submission_id: str) -> HttpResponse:
    return HttpResponseRedirect(page_url(request, own_submission(request, submission_id).pk))


def page_action(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """A POST action of the submission page; a GET of its address (a reload, a shared
    link) opens the page, for anyone who may view it, instead of answering 405 or 403."""

    @wraps(view)
    def wrapper(
        request: HttpRequest, submission_id: str, *args: Any, **kwargs: Any
    ) -> HttpResponse:
        if request.method == "GET":
            return _open_page(request, submission_id)
        if request.method != "POST":
            return HttpResponseNotAllowed(["GET", "POST"])
        return view(request, submission_id, *args, **kwargs)

    return wrapper


def _refused(
    request: HttpRequest,
    submission_id: str,
    message: str,
    *,
    code: str = "",
    typed: dict[str, Any] | None = None,
    field_errors: dict[str, str] | None = None,
    error_for: str = "",
) -> HttpResponse:
    """Post/Redirect/Get: back to the page, which shows the new state and why the action
    failed; what was typed (a reject reason, a correction, line items) comes back with it,
    as the htmx path keeps it. The address bar never keeps /approve."""
    request.session[REFUSAL_KEY] = {
        "id": submission_id,
        "message": message,
        "code": code,
        "typed": typed or {},
        "field_errors": field_errors or {},
        "error_for": error_for,
        # Without JavaScript: the page's claim buttons and Approve then carry the text.
        "plain": not request.htmx,
    }
    return HttpResponseRedirect(page_url(request, submission_id), status=303)


# What the page says when a claim button (or a refused Approve) brought back the text it
# carried (_carried): the reviewer may take it for saved.
KEPT_NOT_SAVED = "What you typed is back in its box, not saved yet: check it and save it."


def _carried(request: HttpRequest) -> dict[str, Any]:
    """What a claim button or Approve carried of the form it submitted, on a page a plain
    post led to with the reviewer's text back in that form (detail's kept_form): read as
    that form's own action reads it. Nothing from htmx, which keeps it in the page. Kept
    through an ended sign-in as that form's own post is (kept_through_sign_in)."""
    if request.htmx:
        return {}
    post = request.POST
    if "field" in post:
        # A cleared box is what was typed too (a value to remove).
        return _typed_correction(request) | _typed_at(request)
    if any(key.startswith(("description-", "amount-")) for key in post):
        typed = _typed_items(request) | _typed_at(request)
    elif "text" in post:
        typed = _typed_comment(request)
    elif "preset" in post:
        typed = _typed_reject(request)
    elif "reason" in post:
        typed = _typed_cancel(request)
    else:
        return {}
    return typed if _has_text(typed) else {}


# What a plain Approve that carried the reviewer's unsaved text says (_unsaved).
NOT_APPROVED_UNSAVED = (
    "Not approved: what you typed is not saved (it is back in its box). Save it first,"
    " or reload the page to leave it unsaved, then approve."
)


def _unsaved(submission: Submission, carried: dict[str, Any]) -> bool:
    """Whether a plain Approve carried text the page kept unsaved (_carried): approved, the
    stored values were, and the correction the reviewer typed was dropped without a word
    (with JavaScript the desk asks first). A correction typed back to the stored value is
    nothing unsaved."""
    if "field" in carried:
        stored = field_text((submission.extracted_data or {}).get(carried["field"]))
        return carried.get("value", "") != stored
    return bool(carried)


def _typed_at(request: HttpRequest) -> dict[str, int]:
    """The version a carried correction was typed on: its form's `typed_version` when an
    earlier claim button carried it already, else the form's version. The page the claim
    leads to is drawn after the take-over, and another reviewer may have saved that field
    between the refusal that brought the text back and the press: drawn with the page's
    version, the next Save put the text over their value unseen (htmx keeps the version
    a draft was typed on, review.js). Its Save checks that field since this one."""
    version = _version_in(request, "typed_version") or _version_in(request, "version")
    return {"version": version} if version else {}


def _version_in(request: HttpRequest, name: str) -> int:
    value = request.POST.get(name, "")
    return int(value) if value.isascii() and value.isdigit() and len(value) < 10 else 0


def _keep_unsaved(request: HttpRequest, submission_id: str, typed: dict[str, Any]) -> None:
    """A plain claim or release that went through: the page it leads to has the text it
    carried back in its box, as a refusal's has, and says it is not saved."""
    request.session[REFUSAL_KEY] = {
        "id": submission_id,
        "message": "",
        "typed": typed,
        "plain": True,
    }
    messages.warning(request, KEPT_NOT_SAVED)


def _refusal(error: ServiceError) -> dict[str, Any]:
    """What a page shows of a service's refusal: the API's message, code and status."""
    return {"error": error.message, "error_code": error.code, "status": error.status}


def _invalid(error: ServiceError, form: str) -> str:
    """The form whose input a refusal is about (its box is marked invalid and described by
    the refusal): a refused value (422), never a conflict, which is no input's fault."""
    return form if error.status == 422 else ""


def _next_in_queue(request: HttpRequest, done: Submission) -> str:
    """The next waiting submission nobody else holds, oldest first; else the queue.

    Both stay within the queue's workflow, fraud and search filters, and in the decided
    submission's environment.
    """
    filters = submission_queue_filters(request, done)
    query = queue_query(filters)
    chosen = queue_next_waiting(
        company=request.company, user=request.user, filters=filters, done_id=done.pk
    )
    url = reverse("review:queue") if chosen is None else reverse("review:detail", args=[chosen.pk])
    return f"{url}?{query}" if query else url


def _decided(request: HttpRequest, submission: Submission, verb: str) -> HttpResponse:
    messages.success(request, f"{submission.pk} {verb}.")
    return HttpResponseRedirect(_next_in_queue(request, submission), status=303)


@page_action
@kept_through_sign_in(_carried)
@allowed(Action.DECIDE)
def approve(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = own_submission(request, submission_id)
    form = ApproveForm(request.POST)
    carried = _carried(request)
    if not form.is_valid():
        message = "The form was incomplete; try again."
        return _refused(request, submission.pk, message, typed=carried)
    if _unsaved(submission, carried):
        return _refused(request, submission.pk, NOT_APPROVED_UNSAVED, typed=carried)
    try:
        submission = submission_approve(
            submission_id=submission.pk,
            actor=Actor.for_user(request.user),
            expected_version=form.cleaned_data["version"],
        )
    except ServiceError as error:
        return _refused(request, submission.pk, error.message, code=error.code, typed=carried)
    return _decided(request, submission, "approved")


@page_action
@kept_through_sign_in(_typed_reject)
@allowed(Action.DECIDE)
def reject(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = own_submission(request, submission_id)
    form = RejectForm(request.POST)
    typed = _typed_reject(request)
    if not form.is_valid():
        message = " ".join(form.non_field_errors()) or "The form was incomplete; try again."
        return _refused(request, submission.pk, message, typed=typed, error_for="reject")
    try:
        submission = submission_reject(
            submission_id=submission.pk,
            actor=Actor.for_user(request.user),
            reason=form.cleaned_data["final_reason"],
            expected_version=form.cleaned_data["version"],
        )
    except ServiceError as error:
        return _refused(
            request,
            submission.pk,
            error.message,
            code=error.code,
            typed=typed,
            error_for=_invalid(error, "reject"),
        )
    return _decided(request, submission, "rejected")


@page_action
@kept_through_sign_in(_typed_cancel)
@allowed(Action.DECIDE)
def cancel(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = own_submission(request, submission_id)
    form = CancelForm(request.POST)
    typed = _typed_cancel(request)
    if not form.is_valid():
        return _refused(request, submission.pk, "The form was incomplete; try again.", typed=typed)
    try:
        submission = submission_cancel(
            submission_id=submission.pk,
            actor=Actor.for_user(request.user),
            reason=form.cleaned_data["reason"],
            expected_version=form.cleaned_data["version"],
        )
    except ServiceError as error:
        return _refused(
            request,
            submission.pk,
            error.message,
            code=error.code,
            typed=typed,
            error_for=_invalid(error, "cancel"),
        )
    return _decided(request, submission, "cancelled")


def _changed(request: HttpRequest, submission_id: str, part: str, **extra: Any) -> HttpResponse:
    """After an in-page change: htmx gets the side column back and tells the fraud panel
    to refresh (its forms carry the old version); plain posts go back to the page."""
    if not request.htmx:
        if extra.get("error"):
            return _refused(
                request,
                submission_id,
                extra["error"],
                code=extra.get("error_code", ""),
                typed=extra.get("typed"),
                field_errors=extra.get("field_errors"),
                error_for=extra.get("error_for", ""),
            )
        if extra.get("kept"):
            _keep_unsaved(request, submission_id, extra["kept"])
        return HttpResponseRedirect(page_url(request, submission_id), status=303)
    submission = own_submission(request, submission_id)
    context = detail_context(
        request,
        submission,
        error=extra.get("error", ""),
        error_code=extra.get("error_code", ""),
        field_errors=extra.get("field_errors"),
        error_for=extra.get("error_for", ""),
    )
    context["changed_notice"] = extra.get("notice", "")
    response = render(
        request, f"review/detail.html#{part}", context, status=extra.get("status", 200)
    )
    return tell_the_page(response, "submission-changed")


@page_action
@kept_through_sign_in(_typed_correction)
@allowed(Action.DECIDE)
def correct(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = own_submission(request, submission_id)
    form = CorrectionForm(request.POST)
    typed = _typed_correction(request)
    if not form.is_valid():
        return _incomplete(request, submission, typed)
    data = form.cleaned_data
    return _corrected(
        request,
        submission,
        data["field"],
        typed,
        lambda actor: submission_correct_field(
            submission_id=submission.pk,
            field_name=data["field"],
            raw_value=data["value"],
            actor=actor,
            page_version=data["version"],
            typed_version=_version_in(request, "typed_version") or None,
        ),
    )


@page_action
@kept_through_sign_in(_typed_items)
@allowed(Action.DECIDE)
def correct_items(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = own_submission(request, submission_id)
    form = LineItemsForm(request.POST)
    rows = _line_item_rows(request)
    typed = _typed_items(request)
    if not form.is_valid():
        return _incomplete(request, submission, typed)
    return _corrected(
        request,
        submission,
        "lineItems",
        typed,
        lambda actor: submission_correct_line_items(
            submission_id=submission.pk,
            rows=rows,
            actor=actor,
            page_version=form.cleaned_data["version"],
            typed_version=_version_in(request, "typed_version") or None,
        ),
    )


def _incomplete(
    request: HttpRequest, submission: Submission, typed: dict[str, Any]
) -> HttpResponse:
    """A correction form without its version: refused, and what was typed comes back with
    the page a plain post is sent to (htmx keeps it in the page itself), as it does with
    a refused save; it was dropped for the stored values."""
    return _changed(
        request, submission.pk, "side", error="The form was incomplete.", typed=typed, status=400
    )


def _corrected(
    request: HttpRequest,
    submission: Submission,
    field_name: str,
    typed: dict[str, Any],
    save: Callable[[Actor], Submission],
) -> HttpResponse:
    """Run a correction service; the side column, with the refusal when there is one (and,
    for a plain form post, what was typed, which htmx keeps in the page itself)."""
    try:
        save(Actor.for_user(request.user))
    except ServiceError as error:
        # An invalid value is shown at its field too; a conflict only above the form.
        errors = _at_inputs(field_name, error) if error.status == 422 else None
        # Refused as another changed the line items since: every row goes back on each
        # save, so put back in the form, the rows the page was drawn with went out again,
        # stale, with the next Save, unseen. The form shows them as they are now; the
        # refused rows beside it. Refused for anything else (another's claim, taken or
        # started since), the rows are current and come back in the form, as htmx keeps them.
        if isinstance(error, FieldChangedError) and error.changed == field_name and "rows" in typed:
            typed = {"rows_refused": typed["rows"], "cut": typed.get("cut", [])}
        return _changed(
            request, submission.pk, "side", field_errors=errors, typed=typed, **_refusal(error)
        )
    return _changed(request, submission.pk, "side")


def _at_inputs(field_name: str, error: ServiceError) -> dict[str, str]:
    """A refused value's message by its field, and by each place in it the refusal names
    (a line item's lineItems[1].quantity): the page marks that row's input."""
    return {field_name: error.message} | {e["field"]: e["message"] for e in error.errors}


def _line_item_rows(request: HttpRequest) -> list[LineItemRow]:
    """The rows of the line-items form: description-N, quantity-N, amount-N.

    A description is read up to TYPED_MAX, past the service's limit, so that a longer one
    is refused with a message (cut to fit, it was stored shortened without a word: every
    row is sent back on each save, so one amount's fix cut all long rows), and comes back
    whole to a plain post (read to one past the limit, its end was gone)."""
    post = request.POST
    return [
        LineItemRow(
            description=post.get(f"description-{n}", "")[:TYPED_MAX],
            quantity=post.get(f"quantity-{n}", "")[:50],
            amount=post.get(f"amount-{n}", "")[:50],
        )
        for n in range(MAX_LINE_ITEM_ROWS)
        if f"description-{n}" in post or f"amount-{n}" in post
    ]


@page_action
@kept_through_sign_in(_carried)
@allowed(Action.DECIDE)
def claim(request: HttpRequest, submission_id: str) -> HttpResponse:
    """ "Start review", or "Take over" another reviewer's claim (recorded as an event)."""
    submission = own_submission(request, submission_id)
    # A take-over names the holder the page showed; the service refuses it if that changed.
    take_over_from = request.POST.get("take_over_from", "")[:150] or None
    carried = _carried(request)
    try:
        submission_claim(
            submission_id=submission.pk, user=request.user, take_over_from=take_over_from
        )
    except ServiceError as error:
        return _changed(request, submission.pk, "side", typed=carried, **_refusal(error))
    return _changed(request, submission.pk, "side", kept=carried)


@page_action
@kept_through_sign_in(_carried)
@allowed(Action.DECIDE)
def release(request: HttpRequest, submission_id: str) -> HttpResponse:
    submission = own_submission(request, submission_id)
    others = membership_allows(request.user, request.company, Action.RELEASE_OTHERS)
    carried = _carried(request)
    if claim_is_live(submission) and not may_release_claim(request.user, submission, others=others):
        if request.POST.get("mine"):
            # Their own claim, released from a page drawn before someone took it over:
            # a stale page's refusal, naming who holds it now.
            try:
                refuse_others_claim(submission, Actor.for_user(request.user))
            except ServiceError as error:
                return _changed(request, submission.pk, "side", typed=carried, **_refusal(error))
        # Another's live claim needs the lead's right: a 403 like any action the role lacks.
        return not_allowed(request, Action.RELEASE_OTHERS)
    try:
        submission_release_claim(submission_id=submission.pk, user=request.user, others=others)
    except ServiceError as error:
        return _changed(request, submission.pk, "side", typed=carried, **_refusal(error))
    return _changed(request, submission.pk, "side", kept=carried)


@page_action
@kept_through_sign_in(_typed_comment)
@allowed(Action.DECIDE)
def comment(request: HttpRequest, submission_id: str) -> HttpResponse:
    """A note in the submission's timeline (an event; also in the API); viewers only read.

    A note never conflicts, so it is saved whatever the page's version; but its answer
    redraws the column, which showed someone else's claim (or its release) without a word:
    it says what changed since the page was drawn, as a stale action's refusal would."""
    submission = own_submission(request, submission_id)
    text = request.POST.get("text", "")[:TYPED_MAX]
    actor = Actor.for_user(request.user)
    try:
        submission_comment(
            submission_id=submission.pk,
            actor=actor,
            text=text,
            form_token=request.POST.get("form_token", "")[:100],
        )
    except ServiceError as error:
        typed = _typed_comment(request)
        return _changed(
            request,
            submission.pk,
            "side",
            typed=typed,
            error_for=_invalid(error, "comment"),
            **_refusal(error),
        )
    changed = _page_version(request)
    said = changed and changed_since_said(
        own_submission(request, submission.pk), since=changed, actor=actor
    )
    if not said:
        return _changed(request, submission.pk, "side")
    notice = f"Your comment was saved. {said}; review its new state."
    if not request.htmx:
        messages.warning(request, notice)  # the page the redirect opens says it
    return _changed(request, submission.pk, "side", notice=notice)


def _page_version(request: HttpRequest) -> int:
    """The version the posting page was drawn at; 0 when the form carried none (a page
    drawn before comment forms carried it) or a damaged one."""
    return _version_in(request, "version")
