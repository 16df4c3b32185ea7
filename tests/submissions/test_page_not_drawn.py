"""A page the review desk cannot draw (it takes longer than RENDER_SECONDS, or more than
its child's memory cap) is remembered as not drawn: each view and each turn of it took
another RENDER_SECONDS of a web worker, and the desk said the file was withdrawn. It is
answered "not drawn", with the file's download, at once. The give-up is 1 s here (the
default's 20 s would cost the suite as much)."""

import time

import pytest
from django.core.cache import cache
from django.urls import reverse

from jobs.services import _purge_one
from submissions import page_cache
from submissions.pages import PageNotDrawn
from submissions.services import submission_files_withdraw
from submissions.views.files import file_url
from tests import factories
from tests.redis_down import redis_down  # noqa: F401 - a fixture
from tests.submissions.test_pages import pdf_of_fax_images
from tests.submissions.test_review_support import pdf_bytes, stored_file

pytestmark = pytest.mark.django_db

GIVE_UP_S = 1


@pytest.fixture
def tries(monkeypatch):
    """Counts the desk's drawings of a page (each still tried for real), given GIVE_UP_S."""
    from submissions.views import files

    tried: list[tuple[int, int]] = []
    real = files.render_png_apart

    def counted(data: bytes, **options: object) -> bytes:
        tried.append((options["page"], options["rotate"]))
        return real(data, **options, timeout_s=GIVE_UP_S)

    monkeypatch.setattr(files, "render_png_apart", counted)
    return tried


@pytest.fixture
def hostile(company):
    """A 3-KB PDF whose one page takes minutes to draw, in review."""
    submission = factories.SubmissionFactory(company=company)
    file = stored_file(submission, content=pdf_of_fax_images(8))
    return submission, file, reverse("review:file_page", args=[submission.pk, 0, 0])


def _not_drawn(response, file) -> bool:
    body = response.content.decode()
    return (
        response.status_code == 422
        and "not drawn" in body
        and f'href="{file_url(file)}"' in body
        and "Download the original" in body
        and response["Cache-Control"] == "private, no-cache"
    )


def test_a_page_that_timed_out_is_answered_not_drawn_at_once_after(ui, hostile, tries):
    _, file, url = hostile
    first = ui.get(url)
    assert _not_drawn(first, file), first.status_code  # was a 404: "the file was withdrawn"
    assert tries == [(0, 0)]

    started = time.monotonic()
    again = ui.get(url)
    assert time.monotonic() - started < GIVE_UP_S / 2
    assert _not_drawn(again, file)
    assert tries == [(0, 0)]  # not tried again: each try cost a web worker RENDER_SECONDS

    # Each turn is a drawing of its own, tried once.
    assert _not_drawn(ui.get(url, {"rotate": "90"}), file)
    assert _not_drawn(ui.get(url, {"rotate": "90"}), file)
    assert tries == [(0, 0), (0, 90)]


def test_a_page_drawn_another_way_is_tried_again(ui, hostile, tries):
    """Remembered per drawing (the page's ETag: the file's bytes, its stored transform)."""
    _, file, url = hostile
    ui.get(url)
    file.page_transforms = [{"skew": 0.0, "turn": 90}]
    file.save(update_fields=["page_transforms"])
    assert _not_drawn(ui.get(url), file)
    assert tries == [(0, 0), (0, 0)]


def test_the_desk_shows_a_page_known_not_to_draw_as_such_with_the_download(
    ui, company, hostile, tries
):
    submission, file, url = hostile
    page_url = reverse("review:file_page", args=[submission.pk, 0, 0])
    desk = ui.get(reverse("review:detail", args=[submission.pk]))
    assert desk.status_code == 200
    assert f'src="{page_url}?v=' in desk.content.decode()  # not known yet: its image is asked

    image = ui.get(url)  # the browser asks for it: the drawing gives up
    assert _not_drawn(image, file)

    desk = ui.get(reverse("review:detail", args=[submission.pk])).content.decode()
    assert f'src="{page_url}?v=' not in desk  # no image the browser would ask for again
    assert "Page 1 is not drawn here: The page takes too long to draw." in desk
    assert f'<a href="{file_url(file)}" hx-boost="false" download' in desk
    assert tries == [(0, 0)]


def test_a_page_with_no_such_number_is_still_404(ui, company, monkeypatch):
    """Not remembered either: it is cheap to find again (no GIVE_UP_S here: the child's
    start alone can take a second on a busy machine)."""
    from submissions.views import files

    tried = []
    real = files.render_png_apart
    monkeypatch.setattr(files, "render_png_apart", lambda *a, **k: tried.append(1) or real(*a, **k))
    submission = factories.SubmissionFactory(company=company)
    stored_file(submission, content=pdf_bytes(pages=2))
    missing = reverse("review:file_page", args=[submission.pk, 0, 5])
    assert ui.get(missing).status_code == 404
    assert ui.get(missing).status_code == 404
    assert tried == [1, 1]


def test_the_retention_purge_forgets_what_was_not_drawn(ui, company, hostile, tries):
    submission, file, url = hostile
    ui.get(url)
    key = page_cache.failed_key(file.pk, 0, 0)
    assert cache.get(key) is not None
    submission_files_withdraw(submission_id=submission.pk)
    _purge_one(submission.pk, company.pk)
    assert cache.get(key) is None


def test_with_redis_down_a_page_not_drawn_is_tried_again_not_a_500(ui, hostile, tries, redis_down):  # noqa: F811
    """The memory of a failed drawing is a cache: without it, each view tries again (the
    cost before it was kept), and answers the same."""
    _, file, url = hostile
    assert _not_drawn(ui.get(url), file)
    assert _not_drawn(ui.get(url), file)
    assert tries == [(0, 0), (0, 0)]
    desk = ui.get(reverse("review:detail", args=[file.submission_id]))
    assert desk.status_code == 200 and "not drawn" not in desk.content.decode()


@pytest.mark.parametrize(
    ("failure", "seconds"),
    [
        (PageNotDrawn("The page takes too long to draw.", lasting=False), "TIMED_OUT_SECONDS"),
        (PageNotDrawn("The page could not be drawn within the limits."), "FAILED_SECONDS"),
    ],
)
def test_a_timeout_is_remembered_for_less_than_a_page_that_cannot_be_drawn(
    ui, hostile, monkeypatch, failure, seconds
):
    """A wall-clock timeout may have been a busy machine's: remembered for
    TIMED_OUT_SECONDS, not the FAILED_SECONDS of a page its child could not draw, so a page
    that draws in seconds is not shown "not drawn" to every reviewer for half an hour."""
    from submissions.views import files

    def fails(data: bytes, **options: object) -> bytes:
        raise failure

    kept: list[object] = []
    real = page_cache._cache_call

    def seen(method: str, *args: object) -> object:
        if method == "set" and str(args[0]).startswith("review:page-failed:"):
            kept.append(args[2])
        return real(method, *args)

    monkeypatch.setattr(files, "render_png_apart", fails)
    monkeypatch.setattr(page_cache, "_cache_call", seen)
    _, _, url = hostile
    assert ui.get(url).status_code == 422
    assert kept == [getattr(page_cache, seconds)]
    assert page_cache.TIMED_OUT_SECONDS < page_cache.FAILED_SECONDS


def test_a_drawing_past_its_wall_clock_is_not_lasting(monkeypatch):
    import subprocess

    from submissions import pages

    def slow(*args: object, **kwargs: object) -> object:
        raise subprocess.TimeoutExpired(cmd="render_child", timeout=1)

    monkeypatch.setattr(pages.subprocess, "run", slow)
    with pytest.raises(PageNotDrawn, match="too long") as caught:
        pages.render_png_apart(pdf_bytes(), pdf=True, page=0, transform={}, rotate=0)
    assert caught.value.lasting is False
