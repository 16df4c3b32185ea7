"""Generators of test documents: invoices as PDF/PNG and hostile files."""

from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass, field

import pypdfium2 as pdfium
from reportlab.lib.pagesizes import A4
from reportlab.lib.pdfencrypt import StandardEncryption
from reportlab.pdfgen import canvas


@dataclass
class InvoiceSpec:
    vendor: str = "Acme Supplies Ltd"
    vendor_address: tuple[str, ...] = ("12 Harbour Road", "Bristol BS1 4DJ", "United Kingdom")
    vendor_tax_id: str = "GB123456789"
    number: str = "INV-2024-0042"
    issued: str = "15 January 2024"
    due: str = "14 February 2024"
    customer: str = "Globex Corporation"
    currency_symbol: str = "£"
    items: list[tuple[str, int, str]] = field(
        default_factory=lambda: [
            ("Blue widgets", 4, "12.50"),
            ("Red gadgets", 2, "30.00"),
            ("Installation service", 1, "95.00"),
        ]
    )
    tax_rate: str = "20"

    @property
    def subtotal(self) -> str:
        return f"{sum(q * float(p) for _, q, p in self.items):.2f}"

    @property
    def tax(self) -> str:
        return f"{float(self.subtotal) * float(self.tax_rate) / 100:.2f}"

    @property
    def total(self) -> str:
        return f"{float(self.subtotal) + float(self.tax):.2f}"


def invoice_pdf(
    spec: InvoiceSpec | None = None,
    *,
    password: str | None = None,
    owner_password: str | None = None,
    extra_pages: int = 0,
) -> bytes:
    """A one-page invoice with a real text layer (optionally encrypted or padded). With
    ``owner_password`` alone it is encrypted yet opens without a password (its owner's
    restrictions, e.g. on printing, are all the encryption guards)."""
    spec = spec or InvoiceSpec()
    buffer = io.BytesIO()
    encrypt = None
    if password or owner_password:
        owner = owner_password or f"{password}-owner"
        encrypt = StandardEncryption(
            password or "", ownerPassword=owner, canPrint=int(bool(password))
        )
    pdf = canvas.Canvas(buffer, pagesize=A4, encrypt=encrypt)
    _draw_invoice(pdf, spec)
    for index in range(extra_pages):
        pdf.showPage()
        pdf.setFont("Helvetica", 11)
        pdf.drawString(72, 760, f"Terms and conditions, page {index + 2}")
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def drawn_pages_pdf(*pages: list[tuple[float, float, str, int]]) -> bytes:
    """An A4 PDF with a text layer, a page for each of ``pages``: (x, y from the top,
    text, font size; bold over 12 points)."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    for rows in pages:
        for x, y, text, size in rows:
            pdf.setFont("Helvetica-Bold" if size > 12 else "Helvetica", size)
            pdf.drawString(x, A4[1] - y, text)
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def huge_page_pdf(pages: int = 3, side_pt: float = 14_400) -> bytes:
    """A PDF of ``pages`` pages of the largest size PDF allows (200 x 200 inches), each
    with one line of text: ~1 KB."""
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(side_pt, side_pt))
    for index in range(pages):
        pdf.setFont("Helvetica", 12)
        pdf.drawString(72, side_pt - 72, f"Page {index + 1}")
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _draw_invoice(pdf: canvas.Canvas, spec: InvoiceSpec) -> None:
    sym = spec.currency_symbol
    pdf.setFont("Helvetica-Bold", 18)
    pdf.drawString(60, 780, spec.vendor)
    pdf.setFont("Helvetica", 10)
    for offset, text in enumerate(spec.vendor_address):
        pdf.drawString(60, 762 - 13 * offset, text)
    pdf.drawString(60, 712, f"VAT No: {spec.vendor_tax_id}")
    pdf.setFont("Helvetica-Bold", 22)
    pdf.drawString(400, 780, "INVOICE")
    pdf.setFont("Helvetica", 10)
    pdf.drawString(380, 750, f"Invoice No: {spec.number}")
    pdf.drawString(380, 736, f"Invoice Date: {spec.issued}")
    pdf.drawString(380, 722, f"Due Date: {spec.due}")
    pdf.setFont("Helvetica-Bold", 11)
    pdf.drawString(60, 670, "Bill To:")
    pdf.setFont("Helvetica", 11)
    pdf.drawString(60, 655, spec.customer)
    y = 600
    pdf.setFont("Helvetica-Bold", 10)
    for x, title in ((60, "Description"), (320, "Qty"), (380, "Unit Price"), (480, "Amount")):
        pdf.drawString(x, y, title)
    pdf.setFont("Helvetica", 10)
    for description, qty, price in spec.items:
        y -= 18
        amount = f"{qty * float(price):.2f}"
        pdf.drawString(60, y, description)
        pdf.drawRightString(340, y, str(qty))
        pdf.drawRightString(440, y, f"{sym}{price}")
        pdf.drawRightString(530, y, f"{sym}{amount}")
    y -= 36
    rows = (
        ("Subtotal", spec.subtotal),
        (f"VAT ({spec.tax_rate}%)", spec.tax),
        ("Total Due", spec.total),
    )
    for label, value in rows:
        pdf.setFont("Helvetica-Bold" if label == "Total Due" else "Helvetica", 10)
        pdf.drawString(380, y, label)
        pdf.drawRightString(530, y, f"{sym}{value}")
        y -= 16
    pdf.setFont("Helvetica", 9)
    pdf.drawString(60, 120, "Payment by bank transfer within 30 days. Thank you for your business.")


def render_png(pdf_bytes: bytes, *, dpi: int = 150, page: int = 0) -> bytes:
    """Rasterise one PDF page to PNG: the same document without a text layer."""
    document = pdfium.PdfDocument(pdf_bytes)
    try:
        image = document[page].render(scale=dpi / 72).to_pil().convert("RGB")
    finally:
        document.close()
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def scanned_pdf(png_bytes: bytes) -> bytes:
    """A PDF whose only content is an image (no text layer), like a scanner produces."""
    from reportlab.lib.utils import ImageReader

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    pdf.drawImage(ImageReader(io.BytesIO(png_bytes)), 0, 0, width=A4[0], height=A4[1])
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    body = kind + payload
    return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))


def bomb_png(width: int = 12_000, height: int = 12_000) -> bytes:
    """A tiny PNG that decodes to width*height pixels (1-bit so it is cheap to build)."""
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((width + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def malformed_pdf() -> bytes:
    """Starts like a PDF, then nothing a parser can use."""
    return b"%PDF-1.7\n1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\n" + b"\x00garbage" * 200


def truncated_jpeg() -> bytes:
    return b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01" + b"\x00" * 64


def unsupported_bytes() -> bytes:
    return b"PK\x03\x04" + b"this is a zip archive, not a document" * 4


def receipt_pdf(
    name: str = "KEDAI BUKU MAJU SDN BHD",
    header: tuple[str, ...] = (),
    *,
    grey: float = 0.0,
    name_size: int = 11,
) -> bytes:
    """A small till receipt (80 x 110 mm, longer with ``header`` lines) with a text layer,
    all of it drawn in ``grey`` (0 black, 1 white), its name ``name_size`` points."""
    from reportlab.lib.units import mm

    buffer = io.BytesIO()
    width, height = 80 * mm, (110 + 10 * len(header)) * mm
    pdf = canvas.Canvas(buffer, pagesize=(width, height))
    pdf.setFillGray(grey)
    rows = _receipt_rows(name, header, name_size=name_size)
    y = height - 14 * mm
    for font, size, text, amount in rows:
        pdf.setFont(font, size)
        if amount is None:
            pdf.drawCentredString(width / 2, y, text)
        else:
            pdf.drawString(6 * mm, y, text)
            pdf.drawRightString(width - 6 * mm, y, amount)
        y -= 10 * mm
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def receipt_pdf_with_pages(*pages: tuple[tuple[str, str | None], ...]) -> bytes:
    """receipt_pdf's receipt on its first page and, on each page after it, ``pages``'
    rows: (text, amount printed right or None), in Helvetica 9 ("TOTAL" rows in bold)."""
    from reportlab.lib.units import mm

    buffer = io.BytesIO()
    width, height = 80 * mm, 110 * mm
    pdf = canvas.Canvas(buffer, pagesize=(width, height))
    for rows in [_receipt_rows(), *[_page_rows(page) for page in pages]]:
        y = height - 14 * mm
        for font, size, text, amount in rows:
            pdf.setFont(font, size)
            if amount is None:
                pdf.drawCentredString(width / 2, y, text)
            else:
                pdf.drawString(6 * mm, y, text)
                pdf.drawRightString(width - 6 * mm, y, amount)
            y -= 10 * mm
        pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _page_rows(
    rows: tuple[tuple[str, str | None], ...],
) -> list[tuple[str, int, str, str | None]]:
    return [
        ("Helvetica-Bold" if "TOTAL" in text else "Helvetica", 9, text, amount)
        for text, amount in rows
    ]


def _receipt_rows(
    name: str = "KEDAI BUKU MAJU SDN BHD", header: tuple[str, ...] = (), *, name_size: int = 11
) -> list[tuple[str, int, str, str | None]]:
    """receipt_pdf's rows: font, size, text and the amount printed right, if any."""
    return [
        ("Helvetica-Bold", name_size, name, None),
        *[("Helvetica", 8, line, None) for line in header],
        ("Helvetica", 8, "12, JALAN MERDEKA, 50050 KUALA LUMPUR", None),
        ("Helvetica", 8, "Date: 14/03/2018  10:25", None),
        ("Helvetica", 9, "Notebook A5", "12.50"),
        ("Helvetica", 9, "Blue pen x2", "5.40"),
        ("Helvetica-Bold", 10, "TOTAL RM", "17.90"),
        ("Helvetica", 9, "CASH", "20.00"),
        ("Helvetica", 9, "CHANGE", "2.10"),
    ]


def receipt_pdf_whose_font_lies(
    lies: dict[str, str],
    *,
    rows: tuple[str, ...] = ("TOTAL RM",),
    rotate: int = 0,
    prints: dict[str, str] | None = None,
) -> bytes:
    """receipt_pdf's receipt, written by hand, whose rows starting with ``rows`` are drawn
    in a font whose /ToUnicode map reads each character of ``lies`` as its value: the
    page shows what receipt_pdf prints, the text layer says otherwise ("17.90" read as
    "71.90" with {"1": "7", "7": "1"}). With no ``lies``, the same receipt, honest; the
    page turned by ``/Rotate``. ``prints`` prints other amounts in place of receipt_pdf's
    ({"17.90": "1,790"}; with {",": "7", "7": "."} its text layer says "17.90")."""
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth

    width, height = 80 * mm, 110 * mm
    names = {"Helvetica": b"H", "Helvetica-Bold": b"B"}
    shows, y = [], height - 14 * mm
    for font, size, text, amount in _receipt_rows():
        amount = (prints or {}).get(amount or "", amount)
        name = (b"L" if lies and text.startswith(rows) else b"") + names[font]
        if amount is None:
            placed = [((width - stringWidth(text, font, size)) / 2, text)]
        else:
            right = width - 6 * mm - stringWidth(amount, font, size)
            placed = [(6 * mm, text), (right, amount)]
        for x, shown in placed:
            shows.append(
                b"BT /%s %d Tf %.2f %.2f Td (%s) Tj ET" % (name, size, x, y, shown.encode())
            )
        y -= 10 * mm
    content = b"\n".join(shows)
    fonts = b"/H 5 0 R /B 6 0 R /LH 7 0 R /LB 8 0 R"  # the objects below, in this order
    cmap = _to_unicode(lies)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Rotate %d /Contents 4 0 R "
        b"/Resources << /Font << %s >> >> >>" % (width, height, rotate, fonts),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        *(
            b"<< /Type /Font /Subtype /Type1 /BaseFont /%s /Encoding /WinAnsiEncoding%s >>"
            % (base.encode(), to_unicode)
            for to_unicode in (b"", b" /ToUnicode 9 0 R")
            for base in names
        ),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(cmap), cmap),
    ]
    return _written_pdf(objects)


def _to_unicode(lies: dict[str, str]) -> bytes:
    """A /ToUnicode CMap reading each one-byte character code of ``lies`` as its value."""
    pairs = b"".join(b"<%02X> <%04X>\n" % (ord(code), ord(said)) for code, said in lies.items())
    return (
        b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap /CMapName /Lies def "
        b"1 begincodespacerange <00> <FF> endcodespacerange\n%d beginbfchar\n%sendbfchar "
        b"endcmap CMapName currentdict /CMap defineresource pop end end"
    ) % (len(lies), pairs)


def _written_pdf(objects: list[bytes]) -> bytes:
    """A PDF of ``objects`` (object 1 the catalog) with its cross-reference table."""
    out, offsets = b"%PDF-1.7\n", []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    trailer = b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
    return out + trailer % (len(objects) + 1, xref)


def rotated_png(png_bytes: bytes, degrees: int) -> bytes:
    """The same image turned by ``degrees`` counter-clockwise, as a phone photo might be."""
    from PIL import Image

    image = Image.open(io.BytesIO(png_bytes)).rotate(degrees, expand=True)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def receipt_pdf_in_greys(
    *, labels: float = 0.0, total: float = 0.0, printed_total: str | None = None
) -> bytes:
    """receipt_pdf's receipt with its labels and its total's amount in greys (0 black, 1
    white). With ``printed_total``, an image of that amount in black is placed between
    the total's label and its text: a forger's faint "26.80" in the text layer beside
    the "17.90" the eye reads ("17.90" itself in the text layer would read as such)."""
    from reportlab.lib.units import mm
    from reportlab.lib.utils import ImageReader

    buffer = io.BytesIO()
    width, height = 80 * mm, 110 * mm
    pdf = canvas.Canvas(buffer, pagesize=(width, height))
    y = height - 14 * mm
    for font, size, text, amount in _receipt_rows():
        pdf.setFont(font, size)
        if amount is None:
            pdf.drawCentredString(width / 2, y, text)
        else:
            pdf.setFillGray(labels)
            pdf.drawString(6 * mm, y, text)
            is_total = text.startswith("TOTAL")
            pdf.setFillGray(total if is_total else 0.0)
            pdf.drawRightString(
                width - 6 * mm, y, "26.80" if is_total and printed_total else amount
            )
            pdf.setFillGray(0.0)
            if is_total and printed_total:
                image = ImageReader(io.BytesIO(_printed(printed_total, font, size)))
                pdf.drawImage(image, 30 * mm, y - 1 * mm, width=14 * mm, height=4.5 * mm)
        y -= 10 * mm
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def _printed(text: str, font: str, size: int) -> bytes:
    """``text`` printed black on white as a PNG of a 14 x 4.5 mm box, at 300 dpi."""
    from reportlab.lib.units import mm

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=(14 * mm, 4.5 * mm))
    pdf.setFont(font, size)
    pdf.drawString(0.5 * mm, 1 * mm, text)
    pdf.showPage()
    pdf.save()
    return render_png(buffer.getvalue(), dpi=300)


# The standard fonts by family: regular, bold (receipt_pdf's bold rows).
FAMILIES = {
    "Helvetica": ("Helvetica", "Helvetica-Bold"),
    "Times": ("Times-Roman", "Times-Bold"),
    "Courier": ("Courier", "Courier-Bold"),
}


def receipt_pdf_set_in(
    family: str,
    *,
    larger: int = 0,
    prints: dict[str, str] | None = None,
    ruled: float | None = None,
) -> bytes:
    """receipt_pdf's receipt set in a standard font ``family`` (FAMILIES), each row
    ``larger`` points larger, with ``prints`` in place of its amounts (as
    receipt_pdf_whose_font_lies); with ``ruled``, each amount in a table's cell, its
    rules ``ruled`` points from the amount's right and well left of it."""
    from reportlab.lib.units import mm

    regular, bold = FAMILIES[family]
    buffer = io.BytesIO()
    width, height = 80 * mm, 110 * mm
    pdf = canvas.Canvas(buffer, pagesize=(width, height))
    y = height - 14 * mm
    for font, size, text, amount in _receipt_rows():
        pdf.setFont(bold if font.endswith("Bold") else regular, size + larger)
        if amount is None:
            pdf.drawCentredString(width / 2, y, text)
        else:
            pdf.drawString(6 * mm, y, text)
            pdf.drawRightString(width - 6 * mm, y, (prints or {}).get(amount, amount))
        if amount is not None and ruled is not None:
            right, left = width - 6 * mm + ruled, width - 30 * mm
            pdf.setLineWidth(0.5)
            pdf.line(right, y - 3 * mm, right, y + 7 * mm)
            pdf.line(left, y - 3 * mm, left, y + 7 * mm)
            pdf.line(left, y - 3 * mm, right, y - 3 * mm)
        y -= 10 * mm
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()


def receipt_pdf_with_a_speck_of_a_total(
    said: str = "26.80", *, size: float = 10, drawn: float = 1.0, declared: float = 1.0
) -> bytes:
    """receipt_pdf's receipt, written by hand, whose total is an image of its 17.90 (as
    receipt_pdf_in_greys prints one) and whose text layer says ``said`` left of it,
    in ``size`` points, as far from it as it is wide (out of the reach of the check's
    re-reading, shown.REACH_CHARS). With ``drawn`` under 1 its font (Type3) draws each glyph that much
    smaller than its size, in a box ``declared`` as that much of its height: a font of 10
    points whose digits are a speck of 3, as large as the check of text height sees it."""
    from PIL import Image
    from reportlab.lib.units import mm
    from reportlab.pdfbase.pdfmetrics import stringWidth

    width, height = 80 * mm, 110 * mm
    names = {"Helvetica": b"H", "Helvetica-Bold": b"B"}
    glyphs = sorted(set(said))
    # The Type3 glyphs' widths (1/1000 of the size) leave them the gaps of Helvetica-Bold's.
    widths = {c: stringWidth(c, "Helvetica-Bold", 1000) * drawn for c in glyphs}
    shows, y = [], height - 14 * mm
    for font, size_, text, amount in _receipt_rows():
        if amount is None:
            shows.append(
                b"BT /%s %d Tf %.2f %.2f Td (%s) Tj ET"
                % (
                    names[font],
                    size_,
                    (width - stringWidth(text, font, size_)) / 2,
                    y,
                    text.encode(),
                )
            )
            y -= 10 * mm
            continue
        shows.append(
            b"BT /%s %d Tf %.2f %.2f Td (%s) Tj ET" % (names[font], size_, 6 * mm, y, text.encode())
        )
        if not text.startswith("TOTAL"):
            right = width - 6 * mm - stringWidth(amount, font, size_)
            shows.append(
                b"BT /%s %d Tf %.2f %.2f Td (%s) Tj ET"
                % (names[font], size_, right, y, amount.encode())
            )
        else:
            left = width - 20 * mm  # the image's left, 14 mm wide
            shows.append(
                b"q %.2f 0 0 %.2f %.2f %.2f cm /Im Do Q" % (14 * mm, 4.5 * mm, left, y - 1 * mm)
            )
            font_name = b"T" if drawn < 1 else b"B"
            said_width = sum(widths[c] for c in said) * size / 1000
            shows.append(
                b"BT /%s %.2f Tf %.2f %.2f Td (%s) Tj ET"
                % (font_name, size, left - 2 * said_width, y, said.encode())
            )
        y -= 10 * mm
    content = b"\n".join(shows)
    image = Image.open(io.BytesIO(_printed("17.90", "Helvetica-Bold", 10))).convert("RGB")
    pixels = zlib.compress(image.tobytes())
    procs = [
        # d1: the glyph's width and its declared box; its colour is the text's.
        b"%d 0 0 0 %d %d d1 BT /B %.1f Tf 0 0 Td (%s) Tj ET"
        % (widths[c], widths[c], 720 * declared, 1000 * drawn, c.encode())
        for c in glyphs
    ]
    first = 9  # the objects after the eight below: one glyph procedure each
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %.2f %.2f] /Contents 4 0 R /Resources "
        b"<< /Font << /H 5 0 R /B 6 0 R /T 7 0 R >> /XObject << /Im 8 0 R >> >> >>"
        % (width, height),
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type3 /FontBBox [0 0 1000 1000] "
        b"/FontMatrix [0.001 0 0 0.001 0 0] /CharProcs << %s >> "
        b"/Encoding << /Type /Encoding /Differences [%s] >> /FirstChar 0 /LastChar 255 "
        b"/Widths [%s] /Resources << /Font << /B 6 0 R >> >> >>"
        % (
            b" ".join(b"/g%d %d 0 R" % (ord(c), first + i) for i, c in enumerate(glyphs)),
            b" ".join(b"%d /g%d" % (ord(c), ord(c)) for c in glyphs),
            b" ".join(b"%d" % round(widths.get(chr(code), 0)) for code in range(256)),
        ),
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceRGB "
        b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n%s\nendstream"
        % (image.width, image.height, len(pixels), pixels),
        *(b"<< /Length %d >>\nstream\n%s\nendstream" % (len(proc), proc) for proc in procs),
    ]
    return _written_pdf(objects)
