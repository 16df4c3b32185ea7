"""The review page's fraud panel: each match beside the submission it matched, and the
reviewer's resolution. The submission page loads the panel with hx-get; without
JavaScript it is a page of its own."""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import forms
from django.contrib import messages
from django.core.files.storage import default_storage
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.template.defaultfilters import pluralize
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.views.decorators.http import require_GET

from fraud.models import FraudMatch
from fraud.policy import FraudPolicy
from fraud.services import (
    UNDO_WINDOW,
    fraud_match_not_found,
    fraud_match_resolve,
    fraud_matches_resolve,
    fraud_resolution_undo,
)
from steve.accounts import (
    Action,
    allowed,
    company_required,
    membership_allows,
    not_allowed,
    post_or_open,
)
from steve.errors import ServiceError
from submissions.models import Submission, SubmissionFile, SubmissionStatus
from submissions.pages import is_identity, stored_transform
from submissions.selectors import company_submission, field_label, live_files_by_submission
from submissions.services import REASON_MAX, Actor
from submissions.views.common import TYPED_MAX, cut_note, fraud_pairs_asked, tell_the_page
from submissions.views.files import file_page_url, file_url

M = FraudMatch

# What reviewers most often give as the reason for confirmed fraud (it becomes the
# reject reason when the policy rejects on confirmation).
FRAUD_REASONS = [
    "Same receipt submitted twice.",
    "Document was edited (amount, date or merchant changed).",
    "Receipt belongs to someone else.",
    "Generated or screenshot document, not an original.",
]


class ResolveForm(forms.Form):
    """One match resolved (the pair form's matches, together): confirming fraud needs a
    reason, picked or written, on both desk paths; it becomes the reject reason."""

    version = forms.IntegerField(min_value=1)
    resolution = forms.ChoiceField(
        choices=[(r.value, r.label) for r in M.REVIEWER_RESOLUTIONS]  # `withdrawn` is Steve's
    )
    preset = forms.CharField(required=False, max_length=500)
    reason = forms.CharField(required=False, strip=True)  # checked by the service

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["reason"].validators = []

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        data["final_reason"] = data.get("reason") or data.get("preset") or ""
        if data.get("resolution") == M.Resolution.CONFIRMED_FRAUD and not data["final_reason"]:
            raise forms.ValidationError("Say why this is fraud: pick a reason or write one.")
        return data


class PairForm(ResolveForm):
    match = forms.MultipleChoiceField(choices=[])

    def __init__(self, *args: Any, match_ids: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["match"].choices = [(pk, pk) for pk in match_ids]


class UndoForm(forms.Form):
    version = forms.IntegerField(min_value=1)
    match = forms.MultipleChoiceField(choices=[])

    def __init__(self, *args: Any, match_ids: list[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["match"].choices = [(pk, pk) for pk in match_ids]


@dataclass(frozen=True)
class Regions:
    """The matched region of a local-feature match on each page, as SVG points in a
    0-1 viewBox (fraud.local normalises coordinates to the page)."""

    outline: str
    target_outline: str
    points: list[tuple[float, float]]
    target_points: list[tuple[float, float]]
    inliers: int
    verified: bool


@dataclass(frozen=True)
class MatchView:
    match: FraudMatch
    own_image: str | None
    target_image: str | None
    facts: list[str]
    regions: Regions | None = None


def _own(request: HttpRequest, submission_id: str) -> Submission:
    submission = company_submission(request.company, submission_id)
    if submission is None:
        raise Http404("No such submission.")
    return submission


def _preview(
    submission: Submission | None,
    files_of: dict[str, list[SubmissionFile]],
    file_id: str | None,
    page: int,
) -> str | None:
    """A URL of the image the reviewer compares: the matched file (an image, or the
    matched page of a PDF), else the submission's first file. ``files_of``: the live files
    of every submission on the panel, read together (live_files_by_submission)."""
    if submission is None:
        return None
    files = files_of.get(submission.pk, [])
    file = next((f for f in files if f.pk == file_id), files[0] if files else None)
    if file is None:
        return None
    mime = file.mime_type or file.declared_content_type
    if mime == "application/pdf":
        # Its password was dropped when its job ended: no page of it can be drawn (404).
        return None if file.password_protected else file_page_url(file, page)
    if mime.startswith("image/"):
        return _image_url(file)
    return None


def _image_url(file: SubmissionFile) -> str:
    """An image as the checks saw it: as uploaded, or drawn cut, straightened or turned
    as OCR read it, so the matched regions (fractions of that page) fall on the receipt."""
    if is_identity(stored_transform(file.page_transforms, 0)):
        return file_url(file)
    return file_page_url(file, 0)


def _target_of(
    submission: Submission, match: FraudMatch, details: dict[str, Any]
) -> Submission | None:
    """Where the match's target page is: the matched submission, or this one when the
    match found one page in two of its own files (fraud.services._repeated_page_finding)."""
    if match.target_submission is None and details.get("targetFile"):
        return submission
    return match.target_submission


def _where(details: dict[str, Any], side: str) -> tuple[str | None, int]:
    """(file id, page) the check points at, on this submission or on the matched one."""
    if side == "target":
        return details.get("targetFile"), _int(details.get("targetPage"))
    signals = details.get("signals")
    if not details.get("file") and isinstance(signals, list) and signals:
        first = signals[0] if isinstance(signals[0], dict) else {}
        return first.get("file"), _int(first.get("page"))
    return details.get("file"), _int(details.get("page"))


def _int(value: Any) -> int:
    return value if isinstance(value, int) and value >= 0 else 0


LOCATION_KEYS = {"file", "targetFile", "page", "targetPage"}


def _facts(details: dict[str, Any]) -> list[str]:
    """What the check found, as short phrases (the file/page pointers are shown as images).
    A value read from a document is set apart in a <bdi> (the phrase is HTML then): in
    Arabic or Hebrew, or holding a bidi override stored before extraction dropped them,
    it took the words after it into its right-to-left run."""
    facts: list[str] = []
    for key, value in details.items():
        if key in LOCATION_KEYS:
            continue
        if key == "signals" and isinstance(value, list):
            facts += [
                f"{s.get('signal', 'signal')} (weight {s.get('weight')})"
                for s in value
                if isinstance(s, dict)
            ]
        elif key == "otherDate" and isinstance(value, dict):
            # fraud.services._clear_other_dates: the look-alike was not counted.
            facts.append(
                format_html(
                    "read with another date (<bdi>{}</bdi> vs <bdi>{}</bdi>): "
                    "the look-alike is not counted",
                    value.get("date"),
                    value.get("targetDate"),
                )
            )
        elif key == "receiptNumber" and isinstance(value, str):
            # fraud.services._data_finding: one receipt number, whatever date and total.
            facts.append(
                format_html(
                    "the same receipt number <bdi>{}</bdi> (total <bdi>{}</bdi> here, "
                    "<bdi>{}</bdi> on the other)",
                    value,
                    details.get("total"),
                    details.get("targetTotal"),
                )
            )
        elif key == "mirrored" and isinstance(value, str):
            # fraud.services._visual_hits: this page is the other one mirrored.
            facts.append(f"the same page mirrored ({value})")
        elif key == "targetTotal":
            continue  # said with the receipt number
        elif key == "files" and isinstance(value, list):
            # fraud.services._duplicate_findings: one file uploaded twice in a submission;
            # _repeated_page_finding: one page in two of its files, as different bytes.
            numbers = " and ".join(str(int(i) + 1) for i in value if isinstance(i, int))
            pages = details.get("pages")
            if isinstance(pages, list) and len(value) == 1:
                # One page twice in one file (a PDF): which pages of it.
                where = " and ".join(str(int(p) + 1) for p in pages if isinstance(p, int))
                facts.append(f"the same page is pages {where} of file {numbers}")
                continue
            what = "file is uploaded as" if "sha256" in details else "page is in"
            facts.append(f"the same {what} files {numbers}")
        elif isinstance(value, str):
            text = f"{value[:12]}…" if key == "sha256" else value
            facts.append(format_html("{}: <bdi>{}</bdi>", key, text))
        elif isinstance(value, int | float | bool):
            facts.append(f"{key}: {value}")
    return facts


@dataclass(frozen=True)
class PairView:
    """One card: every check that matched this submission with one other (or, for a
    finding in this document alone, that one check)."""

    key: str
    target: Submission | None
    checks: list[MatchView]
    unresolved_ids: list[str]
    undo_ids: list[str]
    undo_until: datetime | None

    @property
    def top(self) -> MatchView:
        return self.checks[0]

    @property
    def score(self) -> float:
        return max(v.match.score for v in self.checks)

    @property
    def blocks(self) -> bool:
        return any(v.match.status == M.Status.BLOCK for v in self.checks)

    @property
    def resolution(self) -> str | None:
        found = {v.match.resolution for v in self.checks}
        return found.pop() if len(found) == 1 else None

    @property
    def withdrawn(self) -> bool:
        """Closed by Steve: the matched submission failed or was cancelled."""
        return any(v.match.resolution == M.Resolution.WITHDRAWN for v in self.checks)


def _pairs(submission: Submission, views: list[MatchView]) -> list[PairView]:
    groups: dict[str, list[MatchView]] = {}
    for view in views:
        key = view.match.target_submission_id or view.match.pk
        groups.setdefault(key, []).append(view)
    since = timezone.now() - UNDO_WINDOW
    pairs = []
    for key, checks in groups.items():
        # A withdrawal is Steve's, not a reviewer's to undo.
        resolved = [
            v.match
            for v in checks
            if v.match.resolved_at and v.match.resolution != M.Resolution.WITHDRAWN
        ]
        last = max((m.resolved_at for m in resolved), default=None)
        recent = [m for m in resolved if last and m.resolved_at == last and last >= since]
        pairs.append(
            PairView(
                key=key,
                target=checks[0].match.target_submission,
                checks=checks,
                unresolved_ids=[v.match.pk for v in checks if v.match.resolution is None],
                undo_ids=[m.pk for m in recent] if submission.status == "review" else [],
                undo_until=last + UNDO_WINDOW if recent else None,
            )
        )
    # Undecided pairs first, the strongest first.
    return sorted(pairs, key=lambda p: (not p.unresolved_ids, -p.score))


def _svg_points(value: Any) -> list[tuple[float, float]]:
    """[[x, y], ...] within the page (0-1), anything else dropped: details are data."""
    points = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, list | tuple) and len(item) == 2:
            x, y = item
            if isinstance(x, int | float) and isinstance(y, int | float):
                points.append((min(1.0, max(0.0, float(x))), min(1.0, max(0.0, float(y)))))
    return points


def _regions(details: dict[str, Any]) -> Regions | None:
    """What the keypoints matched on both pages, when the match has a local verdict."""
    found = details.get("local")
    if not isinstance(found, dict):
        return None
    outline, target_outline = (
        _svg_points(found.get("outline")),
        _svg_points(found.get("targetOutline")),
    )
    if len(outline) < 3 or len(target_outline) < 3:
        return None
    inliers = found.get("inliers")
    score = found.get("score")
    return Regions(
        outline=" ".join(f"{x:.4f},{y:.4f}" for x, y in outline),
        target_outline=" ".join(f"{x:.4f},{y:.4f}" for x, y in target_outline),
        points=_svg_points(found.get("points")),
        target_points=_svg_points(found.get("targetPoints")),
        inliers=inliers if isinstance(inliers, int) else 0,
        verified=isinstance(score, int | float) and score > 0,
    )


# Pair cards drawn at once (about 4 kB each, with their forms): a submission matched with
# 300 others made a 1.2 MB panel. "Show more" asks for this many more (?pairs=).
PAIRS_SHOWN = 50


def _pairs_asked(request: HttpRequest) -> int:
    """How many pairs the reviewer asked to see: ?pairs=N (a "Show more" link), else the
    first page; anything but a positive whole number is the first page."""
    return fraud_pairs_asked(request) or PAIRS_SHOWN


def _more_url(request: HttpRequest, submission: Submission, pairs: int) -> str:
    query = request.GET.copy()
    query.pop("part", None)
    query["pairs"] = str(pairs)
    return f"{reverse('fraud:panel', args=[submission.pk])}?{query.urlencode()}"


def _panel_context(
    request: HttpRequest,
    submission: Submission,
    *,
    error: str = "",
    error_code: str = "",
    keep_pair: str = "",
) -> dict[str, Any]:
    matches = (
        M.objects.filter(submission=submission)
        .select_related("target_submission")
        .order_by(F("resolution").asc(nulls_first=True), "-score", "id")
    )
    # Read once for the panel, not twice a card: a submission matched 300 times took 607
    # queries and 1.5 s to draw.
    matches = list(matches)
    files_of = live_files_by_submission(
        [submission.pk, *(m.target_submission_id for m in matches if m.target_submission_id)]
    )
    views = []
    for m in matches:
        details = m.details if isinstance(m.details, dict) else {}
        views.append(
            MatchView(
                match=m,
                own_image=_preview(submission, files_of, *_where(details, "own")),
                target_image=_preview(
                    _target_of(submission, m, details), files_of, *_where(details, "target")
                ),
                facts=_facts(details),
                regions=_regions(details),
            )
        )
    pairs = _pairs(submission, views)
    asked = _pairs_asked(request)
    # Past the first page, still the pairs a reviewer is acting on: one resolved just now
    # (sorted after the undecided ones) with its Undo, the one a refused reason is for.
    shown = [
        p
        for n, p in enumerate(pairs)
        if n < asked or p.undo_ids or (keep_pair and p.key == keep_pair)
    ]
    return {
        "submission": submission,
        "matches": views,  # the counts are of every match and pair, shown or not
        "pair_count": len(pairs),
        "pairs": shown,
        "hidden_pairs": len(pairs) - len(shown),
        "pairs_asked": asked,  # what the page's reload asks for (#fraud-pairs-shown)
        "more_url": _more_url(request, submission, asked + PAIRS_SHOWN),
        "unresolved": sum(1 for v in views if v.match.resolution is None),
        "can_resolve": submission.status == "review"
        and membership_allows(request.user, request.company, Action.DECIDE),
        "can_confirm": membership_allows(request.user, request.company, Action.CONFIRM_FRAUD),
        "fraud_reasons": FRAUD_REASONS,
        "reject_on_confirm": _rejects_on_confirm(submission),
        "qs": _query(request),
        "error": error,
        "error_code": error_code,  # the code the API answers the same refusal with
    }


def _rejects_on_confirm(submission: Submission) -> bool:
    return FraudPolicy.from_json(submission.workflow_version.fraud_policy).reject_on_confirmed_fraud


def _render_panel(
    request: HttpRequest,
    submission: Submission,
    *,
    error: str = "",
    error_code: str = "",
    status: int = 200,
    typed: dict[str, Any] | None = None,
    outcome: str = "",
) -> HttpResponse:
    template = "fraud/panel.html#panel" if request.htmx else "fraud/panel.html"
    context = _panel_context(
        request,
        submission,
        error=error,
        error_code=error_code,
        keep_pair=str((typed or {}).get("pair") or ""),
    )
    context["outcome"] = outcome  # what a decision just made did, for the live region
    # A refused confirmation's reason goes back into its pair's form; when that form is
    # gone (another reviewer resolved the pair meanwhile), the panel shows the reason.
    context["typed"] = typed or {}
    context["typed_not_kept"] = _reason_without_form(context, typed or {})
    sent = (typed or {}).get("sent")
    # A reason too long to come back whole: the panel says its end is gone.
    context["typed_cut"] = (
        cut_note("fraud reason", sent=sent, limit=REASON_MAX) if isinstance(sent, int) else ""
    )
    return render(request, template, context, status=status)


def _reason_without_form(context: dict[str, Any], typed: dict[str, Any]) -> str:
    # The reason written, else the one picked from the list (the reason that was sent).
    picked = typed.get("preset") if typed.get("preset") in FRAUD_REASONS else ""
    reason = typed.get("reason") or picked or ""
    has_form = context["can_resolve"] and context["can_confirm"]
    if has_form and any(p.key == typed.get("pair") and p.unresolved_ids for p in context["pairs"]):
        return ""
    return reason


TYPED_KEY = "fraud:typed"


@require_GET
@company_required
def panel(request: HttpRequest, submission_id: str) -> HttpResponse:
    typed = request.session.pop(TYPED_KEY, None)
    if not isinstance(typed, dict) or typed.get("id") != submission_id:
        typed = None
    return _render_panel(request, _own(request, submission_id), typed=typed)


def _typed(request: HttpRequest, submission_id: str) -> dict[str, Any]:
    """The reason a reviewer wrote, and the one picked from the list, with a refused
    decision, and the pair it was for: a pick came back unpicked, though the written
    reason was kept."""
    matches = _posted_match_ids(request)
    pair = M.objects.filter(pk__in=matches[:1], submission_id=submission_id).first()
    reason = request.POST.get("reason", "")
    return {
        "id": submission_id,
        "pair": (pair.target_submission_id or pair.pk) if pair else "",
        # Bounded (it comes back through the session); a longer one's length is kept, for
        # the panel to say it was cut.
        "reason": reason[:TYPED_MAX],
        "sent": len(reason) if len(reason) > TYPED_MAX else None,
        "preset": request.POST.get("preset", "")[:500],
    }


def _query(request: HttpRequest) -> str:
    """The submission page's query string (the review queue's filters), passed through
    the panel's forms and back, so a plain post returns to the same queue."""
    query = request.GET.copy()
    query.pop("part", None)
    return f"?{query.urlencode()}" if query else ""


def _panel_url(request: HttpRequest, submission_id: str, **_: str) -> str:
    """The panel's own page: where a reviewer without JavaScript resolves fraud."""
    return reverse("fraud:panel", args=[submission_id]) + _query(request)


@post_or_open(_panel_url)
@allowed(Action.DECIDE)
def resolve(request: HttpRequest, submission_id: str, match_id: str) -> HttpResponse:
    submission = _own(request, submission_id)
    form = ResolveForm(request.POST)
    confirming = request.POST.get("resolution") == M.Resolution.CONFIRMED_FRAUD
    if confirming and not membership_allows(request.user, request.company, Action.CONFIRM_FRAUD):
        return not_allowed(request, Action.CONFIRM_FRAUD)
    error, status, code, done = "", 200, "", ""
    if not M.objects.filter(pk=match_id, submission=submission).exists():
        gone = fraud_match_not_found()  # as resolve_pair says it, in the refreshed panel
        error, status, code = gone.message, gone.status, gone.code
    elif not form.is_valid():
        # A missing reason is the pair form's 422; a missing or unknown resolution a 400.
        reasons = form.non_field_errors()
        error = " ".join(reasons) or "Pick false positive or confirmed fraud."
        status = 422 if reasons else 400
    else:
        try:
            fraud_match_resolve(
                submission_id=submission.pk,
                match_id=match_id,
                resolution=form.cleaned_data["resolution"],
                actor=Actor.for_user(request.user),
                user=request.user,
                reason=form.cleaned_data["final_reason"],
                page_version=form.cleaned_data["version"],
            )
            done = RESOLVED_SAYS[form.cleaned_data["resolution"]]
        except ServiceError as refusal:
            error, status, code = refusal.message, refusal.status, refusal.code
    return _after_resolve(request, submission.pk, error=error, status=status, code=code, done=done)


def _posted_match_ids(request: HttpRequest) -> list[str]:
    """The match ids a form posted that could be ids (printable ASCII, as every id is),
    for a lookup: one with a NUL byte went to PostgreSQL as it came, which refuses it in
    text (a 500). The forms still check every posted id against the submission's own."""
    return [m for m in request.POST.getlist("match") if m.isascii() and m.isprintable()]


def _match_ids(submission: Submission) -> list[str]:
    return list(M.objects.filter(submission=submission).values_list("pk", flat=True))


def _gone(request: HttpRequest, submission: Submission) -> ServiceError | None:
    """The service's FRAUD_MATCH_NOT_FOUND refusal when a match the panel showed no longer
    exists (it went with the other submission), rather than a misleading form error."""
    if set(request.POST.getlist("match")) <= set(_match_ids(submission)):
        return None
    return fraud_match_not_found()


@post_or_open(_panel_url)
@allowed(Action.DECIDE)
def resolve_pair(request: HttpRequest, submission_id: str) -> HttpResponse:
    """Resolve one pair's matches together; confirming fraud carries the reviewer's reason."""
    submission = _own(request, submission_id)
    confirming = request.POST.get("resolution") == M.Resolution.CONFIRMED_FRAUD
    if confirming and not membership_allows(request.user, request.company, Action.CONFIRM_FRAUD):
        return not_allowed(request, Action.CONFIRM_FRAUD)
    form = PairForm(request.POST, match_ids=_match_ids(submission))
    error, status, code, done = "", 200, "", ""
    gone = _gone(request, submission)
    if gone:
        error, status, code = gone.message, gone.status, gone.code
    elif not form.is_valid():
        error = " ".join(form.non_field_errors()) or "Pick false positive or confirmed fraud."
        status = 422
    else:
        try:
            fraud_matches_resolve(
                submission_id=submission.pk,
                match_ids=form.cleaned_data["match"],
                resolution=form.cleaned_data["resolution"],
                actor=Actor.for_user(request.user),
                user=request.user,
                reason=form.cleaned_data["final_reason"],
                page_version=form.cleaned_data["version"],
            )
            done = RESOLVED_SAYS[form.cleaned_data["resolution"]]
        except ServiceError as refusal:
            error, status, code = refusal.message, refusal.status, refusal.code
    return _after_resolve(request, submission.pk, error=error, status=status, code=code, done=done)


@post_or_open(_panel_url)
@allowed(Action.DECIDE)
def undo(request: HttpRequest, submission_id: str) -> HttpResponse:
    """Take back the last resolution of a pair within the undo window (an event)."""
    submission = _own(request, submission_id)
    form = UndoForm(request.POST, match_ids=_match_ids(submission))
    # Taking back a confirmation is a confirmer's decision too: a reviewer who could not
    # confirm fraud must not undo a lead's confirmation (and approve what it flagged).
    undoing = M.objects.filter(submission=submission, pk__in=_posted_match_ids(request))
    confirmed = undoing.filter(resolution=M.Resolution.CONFIRMED_FRAUD).exists()
    if confirmed and not membership_allows(request.user, request.company, Action.CONFIRM_FRAUD):
        return not_allowed(request, Action.CONFIRM_FRAUD)
    error, status, code, done = "", 200, "", ""
    gone = _gone(request, submission)
    if gone:
        error, status, code = gone.message, gone.status, gone.code
    elif not form.is_valid():
        error, status = "The form was incomplete; try again.", 400
    else:
        try:
            fraud_resolution_undo(
                submission_id=submission.pk,
                match_ids=form.cleaned_data["match"],
                actor=Actor.for_user(request.user),
                page_version=form.cleaned_data["version"],
            )
            done = "Resolution undone."
        except ServiceError as refusal:
            error, status, code = refusal.message, refusal.status, refusal.code
    return _after_resolve(request, submission.pk, error=error, status=status, code=code, done=done)


@dataclass(frozen=True)
class LockedFile:
    """A password-protected PDF: it has pages, but none can be drawn (its password was
    dropped when its job ended). ``original``: its bytes' address, "" when not stored."""

    file: SubmissionFile
    original: str


@dataclass(frozen=True)
class Side:
    submission: Submission
    pages: list[str]
    locked: list[LockedFile]


def _side(submission: Submission) -> Side:
    """Every page the reviewer can see of a submission's stored files, in order, and its
    PDFs whose pages cannot be drawn, so the page says why rather than "No stored pages"."""
    urls: list[str] = []
    locked: list[LockedFile] = []
    files: list[SubmissionFile] = list(
        submission.files.filter(purged_at__isnull=True).order_by("file_index")
    )
    for file in files:
        mime = file.mime_type or file.declared_content_type
        if mime == "application/pdf" and file.password_protected:
            # No page of it can be drawn: its password was dropped with its job.
            kept = default_storage.exists(file.storage_key)
            locked.append(LockedFile(file, file_url(file) if kept else ""))
        elif mime == "application/pdf":
            urls += [file_page_url(file, n) for n in range(min(file.page_count or 1, 10))]
        elif mime.startswith("image/") and mime != "image/svg+xml":
            urls.append(_image_url(file))
    return Side(submission, urls, locked)


def _compared_fields(own: Submission, other: Submission) -> list[dict[str, Any]]:
    a, b = own.extracted_data or {}, other.extracted_data or {}
    schema = (own.workflow_version.output_schema or {}).get("properties", {})
    names = sorted(k for k in {*a, *b} if not isinstance(a.get(k, b.get(k)), list | dict))
    return [
        {
            "label": field_label(n, schema.get(n) or {}),
            "own": a.get(n),
            "other": b.get(n),
            "same": a.get(n) == b.get(n),
        }
        for n in names
    ]


@require_GET
@company_required
def compare(request: HttpRequest, submission_id: str, target_id: str) -> HttpResponse:
    """The two submissions of a pair side by side: pages and fields. Reading only: it
    claims nothing, so it can be opened from any page in a new tab."""
    submission = _own(request, submission_id)
    target = _own(request, target_id)
    context = {
        "submission": submission,
        "target": target,
        "sides": [_side(submission), _side(target)],
        "fields": _compared_fields(submission, target),
        "checks": M.objects.filter(submission=submission, target_submission=target).order_by(
            "-score"
        ),
    }
    return render(request, "fraud/compare.html", context)


# What a decision in the panel did, said first in its outcome (_outcome).
RESOLVED_SAYS: dict[str, str] = {
    M.Resolution.FALSE_POSITIVE: "Marked false positive.",
    M.Resolution.CONFIRMED_FRAUD: "Confirmed fraud.",
}


def _outcome(submission: Submission, done: str) -> str:
    """What a decision did (`done`) and what it leaves: the pairs still to decide, or the
    submission's new status when the decision decided it (a confirmation that rejects)."""
    if submission.status != SubmissionStatus.REVIEW:
        return f"{done} The submission is {submission.status}."
    open_matches = M.objects.filter(submission=submission, resolution__isnull=True)
    # A pair is a matched submission's checks, or one finding in the document alone (_pairs).
    left = len({target or pk for pk, target in open_matches.values_list("pk", "target_submission")})
    if not left:
        return f"{done} No pairs left to decide."
    return f"{done} {left} pair{pluralize(left)} left to decide."


def _after_resolve(
    request: HttpRequest,
    submission_id: str,
    *,
    error: str,
    status: int,
    code: str = "",
    done: str = "",
) -> HttpResponse:
    """The panel after a decision in it: refused (`error`, `code`), or done (`done` says
    what), said in the page's live region, where focus (on the next pair) says nothing."""
    typed = _typed(request, submission_id) if error else None
    submission = _own(request, submission_id)
    outcome = "" if error else _outcome(submission, done)
    if not request.htmx:
        # A plain form post: back to the submission page, which shows the outcome; a
        # refusal back to the panel's page, with the reason that was written.
        if error:
            messages.error(request, f"{error} ({code})" if code else error)
            request.session[TYPED_KEY] = typed
            return HttpResponseRedirect(_panel_url(request, submission_id), status=303)
        messages.success(request, outcome)
        url = reverse("review:detail", args=[submission_id]) + _query(request)
        return HttpResponseRedirect(url, status=303)
    response = _render_panel(
        request,
        submission,
        error=error,
        error_code=code,
        status=status,
        typed=typed,
        outcome=outcome,
    )
    # The version changed (or was already newer): the page refreshes its other regions.
    return tell_the_page(response, "fraud-changed")
