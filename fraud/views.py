"""The review page's fraud panel: each match beside the submission it matched, and the
reviewer's resolution. The submission page loads the panel with hx-get; without
JavaScript it is a page of its own."""

from dataclasses import dataclass
from typing import Any

from django import forms
from django.contrib import messages
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from fraud.models import FraudMatch
from fraud.services import fraud_match_resolve
from steve.accounts import company_required
from submissions.models import Submission
from submissions.selectors import company_submission
from submissions.services import Actor, SubmissionActionError, submission_claim

M = FraudMatch


class ResolveForm(forms.Form):
    version = forms.IntegerField(min_value=1)
    resolution = forms.ChoiceField(choices=M.Resolution.choices)


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


def _preview(submission: Submission | None, file_id: str | None, page: int) -> str | None:
    """A URL of the image the reviewer compares: the matched file (an image, or the
    matched page of a PDF), else the submission's first file."""
    if submission is None:
        return None
    files = list(submission.files.filter(purged_at__isnull=True).order_by("file_index"))
    file = next((f for f in files if f.pk == file_id), files[0] if files else None)
    if file is None:
        return None
    mime = file.mime_type or file.declared_content_type
    if mime == "application/pdf":
        return reverse("review:file_page", args=[submission.pk, file.file_index, page])
    if mime.startswith("image/"):
        return reverse("review:file", args=[submission.pk, file.file_index])
    return None


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
    """What the check found, as short phrases (the file/page pointers are shown as images)."""
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
        elif isinstance(value, str | int | float | bool):
            text = f"{value[:12]}…" if key == "sha256" and isinstance(value, str) else value
            facts.append(f"{key}: {text}")
    return facts


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


def _panel_context(submission: Submission, *, error: str = "") -> dict[str, Any]:
    matches = (
        M.objects.filter(submission=submission)
        .select_related("target_submission")
        .order_by(F("resolution").asc(nulls_first=True), "-score", "id")
    )
    views = []
    for m in matches:
        details = m.details if isinstance(m.details, dict) else {}
        views.append(
            MatchView(
                match=m,
                own_image=_preview(submission, *_where(details, "own")),
                target_image=_preview(m.target_submission, *_where(details, "target")),
                facts=_facts(details),
                regions=_regions(details),
            )
        )
    return {
        "submission": submission,
        "matches": views,
        "unresolved": sum(1 for v in views if v.match.resolution is None),
        "can_resolve": submission.status == "review",
        "error": error,
    }


def _render_panel(
    request: HttpRequest, submission: Submission, *, error: str = "", status: int = 200
) -> HttpResponse:
    template = "fraud/panel.html#panel" if request.htmx else "fraud/panel.html"
    return render(request, template, _panel_context(submission, error=error), status=status)


@require_GET
@company_required
def panel(request: HttpRequest, submission_id: str) -> HttpResponse:
    return _render_panel(request, _own(request, submission_id))


@require_POST
@company_required
def resolve(request: HttpRequest, submission_id: str, match_id: str) -> HttpResponse:
    submission = _own(request, submission_id)
    if not M.objects.filter(pk=match_id, submission=submission).exists():
        raise Http404("No such fraud match.")
    form = ResolveForm(request.POST)
    error, status = "", 200
    if not form.is_valid():
        error, status = "Pick false positive or confirmed fraud.", 400
    else:
        try:
            fraud_match_resolve(
                submission_id=submission.pk,
                match_id=match_id,
                resolution=form.cleaned_data["resolution"],
                actor=Actor.for_user(request.user),
                user=request.user,
                expected_version=form.cleaned_data["version"],
            )
        except SubmissionActionError as refusal:
            error, status = refusal.message, 409
        else:
            # Working on it keeps the claim alive.
            submission_claim(submission_id=submission.pk, user=request.user)
    return _after_resolve(request, submission.pk, error=error, status=status)


def _after_resolve(
    request: HttpRequest, submission_id: str, *, error: str, status: int
) -> HttpResponse:
    if not request.htmx:
        # A plain form post: back to the submission page, which shows the outcome.
        if error:
            messages.error(request, error)
        else:
            messages.success(request, "Fraud match resolved.")
        return HttpResponseRedirect(reverse("review:detail", args=[submission_id]), status=303)
    response = _render_panel(request, _own(request, submission_id), error=error, status=status)
    # The version changed (or was already newer): the page refreshes its other regions.
    response["HX-Trigger"] = "fraud-changed"
    return response
