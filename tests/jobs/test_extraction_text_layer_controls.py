"""Control characters in a PDF's text layer: a glyph whose font says it is a NUL (or another
C0 or C1 control) is one the text layer cannot name, and the word is broken there, never
joined across it; the characters after it are read where they are."""

from __future__ import annotations

import pytest

from jobs.extraction import load_document
from tests.jobs.fixtures_docs import _written_pdf


def _total_pdf(shown: bytes, *, point_reads_as: str | None = None) -> bytes:
    """A page printing "TOTAL " and ``shown`` in 20-point Helvetica; with
    ``point_reads_as``, its font's /ToUnicode map reads the glyph "." as that character."""
    content = b"BT /F 20 Tf 40 100 Td (TOTAL %s) Tj ET" % shown
    to_unicode = b" /ToUnicode 6 0 R" if point_reads_as is not None else b""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R "
        b"/Resources << /Font << /F 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica "
        b"/Encoding /WinAnsiEncoding%s >>" % to_unicode,
    ]
    if point_reads_as is not None:
        cmap = (
            b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /C def "
            b"1 begincodespacerange <00> <FF> endcodespacerange\n1 beginbfchar\n"
            b"<2E> <%s>\nendbfchar endcmap CMapName currentdict /CMap defineresource pop "
            b"end end" % point_reads_as.encode("utf-16-be").hex().upper().encode()
        )
        objects.append(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(cmap), cmap))
    return _written_pdf(objects)


def _words(pdf: bytes) -> list[str]:
    return [word.text for word in load_document(pdf).pages[0].words]


@pytest.mark.parametrize(
    "pdf",
    [
        # The character code 0, which no encoding names: pdfium reads it as NUL. Read as
        # text, the NUL was left out and each character after it read one place late:
        # "12", U+FFFE, "5", the "0" lost.
        pytest.param(_total_pdf(b"12\\00050"), id="code-0"),
        # A /ToUnicode map saying the "." is U+0000: read "12" U+FFFE "50", one word.
        pytest.param(_total_pdf(b"12.50", point_reads_as="\x00"), id="mapped-to-NUL"),
        # Other C0 controls, DEL and C1: skipped as a zero-width character is, the word
        # was joined across them ("1250" where the page shows 12.50).
        pytest.param(_total_pdf(b"12\\00150"), id="code-1"),
        pytest.param(_total_pdf(b"12.50", point_reads_as="\x01"), id="mapped-to-SOH"),
        pytest.param(_total_pdf(b"12.50", point_reads_as="\x1b"), id="mapped-to-ESC"),
        pytest.param(_total_pdf(b"12.50", point_reads_as="\x7f"), id="mapped-to-DEL"),
        pytest.param(_total_pdf(b"12.50", point_reads_as="\x9b"), id="mapped-to-CSI"),
    ],
)
def test_a_control_character_in_the_text_layer_breaks_the_word_there(pdf: bytes) -> None:
    assert _words(pdf) == ["TOTAL", "12", "50"]


@pytest.mark.parametrize(
    "noncharacter",
    [
        pytest.param("\ufffe", id="U+FFFE"),
        pytest.param("\ufdd0", id="U+FDD0"),
        pytest.param("\ufdef", id="U+FDEF"),
        pytest.param("\U0001fffe", id="U+1FFFE"),
        pytest.param("\U0010ffff", id="U+10FFFF"),
    ],
)
def test_a_noncharacter_in_the_text_layer_is_dropped_as_a_zero_width_character_is(
    noncharacter: str,
) -> None:
    # A /ToUnicode map naming the glyph "." a noncharacter, which no text holds: it was
    # kept in the word ("SUB" U+FFFE "TOTAL"), a vendor or a label unequal to itself.
    pdf = _total_pdf(b"SUB.TOTAL", point_reads_as=noncharacter)
    assert _words(pdf) == ["TOTAL", "SUBTOTAL"]
