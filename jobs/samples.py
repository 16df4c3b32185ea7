"""Sample receipts and invoices Steve renders itself, for the demo data.

Receipts are drawn with Pillow as a till would print them; invoices are PDFs with a
text layer drawn with reportlab. Nothing here is read from a data set.
"""

import io
import random
import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from PIL import Image, ImageDraw, ImageEnhance, ImageFont
from reportlab.lib.pagesizes import A4
from reportlab.pdfgen import canvas

FONT_DIRS = [Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/truetype/liberation")]
MERCHANTS = [
    ("KEDAI RUNCIT MAJU JAYA", "12, JALAN BUNGA RAYA, 50250 KUALA LUMPUR"),
    ("RESTORAN SELERA KAMPUNG", "NO 8, JALAN PUDU, 55100 KUALA LUMPUR"),
    ("GIANT HYPERMARKET SDN BHD", "LOT 2, JALAN KLANG LAMA, 58000 KUALA LUMPUR"),
    ("POPULAR BOOK CO (M) SDN BHD", "NO 3, JALAN SS2/61, 47300 PETALING JAYA, SELANGOR"),
]
ITEMS = ["MINERAL WATER", "NASI LEMAK", "TEH TARIK", "NOTEBOOK A5", "PEN BLUE", "BREAD", "EGGS 10S"]


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # A till prints in a monospaced face, and the receipt's columns are laid out for one.
    for folder in FONT_DIRS:
        for name in ("DejaVuSansMono.ttf", "LiberationMono-Regular.ttf"):
            if (folder / name).exists():
                return ImageFont.truetype(str(folder / name), size)
    return ImageFont.load_default(size=size)


@dataclass(frozen=True)
class ReceiptSpec:
    merchant: str
    address: str
    day: date
    items: tuple[tuple[str, int, Decimal], ...]
    number: str

    @property
    def total(self) -> Decimal:
        return sum((qty * price for _, qty, price in self.items), Decimal("0"))


def random_receipt(rng: random.Random, merchant_index: int | None = None) -> ReceiptSpec:
    merchant, address = MERCHANTS[
        merchant_index if merchant_index is not None else rng.randrange(len(MERCHANTS))
    ]
    items = tuple(
        (rng.choice(ITEMS), rng.randint(1, 3), Decimal(rng.randint(150, 2500)) / 100)
        for _ in range(rng.randint(1, 4))
    )
    day = date(2026, 1, 1) + timedelta(days=rng.randrange(300))
    return ReceiptSpec(merchant, address, day, items, f"CS{rng.randint(10000, 99999)}")


def receipt_lines(spec: ReceiptSpec) -> list[str]:
    # A till prints about 32 columns: the address wraps before its postcode.
    street, town = re.split(r", (?=\d{5} )", spec.address, maxsplit=1)
    lines = [spec.merchant, f"{street},", town, "", f"RECEIPT NO: {spec.number}"]
    lines.append(f"DATE: {spec.day.strftime('%d/%m/%Y')}  TIME: 14:32")
    lines.append(f"{'ITEM':<17}{'QTY':>3} {'AMOUNT':>10}")
    lines.append("-" * 32)
    for name, qty, price in spec.items:
        lines.append(f"{name[:18]:<18}{qty:>2} {qty * price:>10.2f}")
    lines.append("-" * 32)
    lines.append(f"{'TOTAL (RM)':<20}{spec.total:>11.2f}")
    lines.append(f"{'CASH':<20}{(spec.total // 10 + 1) * 10:>11.2f}")
    lines.append("")
    lines.append("THANK YOU. PLEASE COME AGAIN")
    return lines


def receipt_image(spec: ReceiptSpec) -> Image.Image:
    font = _font(22)
    lines = receipt_lines(spec)
    image = Image.new("RGB", (560, 60 + 34 * len(lines)), "white")
    draw = ImageDraw.Draw(image)
    for index, line in enumerate(lines):
        draw.text((30, 30 + 34 * index), line, fill="black", font=font)
    return image


def recapture(image: Image.Image, rng: random.Random) -> Image.Image:
    """The same paper photographed again: slightly rotated, darker or lighter, smaller."""
    rotated = image.rotate(rng.uniform(-2, 2), expand=True, fillcolor="white")
    lit = ImageEnhance.Brightness(rotated).enhance(rng.uniform(0.9, 1.1))
    return lit.resize((int(lit.width * 0.85), int(lit.height * 0.85)))


def jpeg(image: Image.Image, quality: int = 90) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=quality)
    return buffer.getvalue()


def invoice_pdf(rng: random.Random, number: int) -> bytes:
    vendor = rng.choice(["Acme Supplies Ltd", "Northwind Traders", "Globex Services"])
    items = [(rng.choice(["Consulting", "Licences", "Support", "Hardware"]), rng.randint(1, 5),
              Decimal(rng.randint(2000, 90000)) / 100) for _ in range(rng.randint(1, 3))]  # fmt: skip
    subtotal = sum((q * p for _, q, p in items), Decimal("0"))
    tax = (subtotal * Decimal("0.2")).quantize(Decimal("0.01"))
    issued = date(2026, 1, 1) + timedelta(days=rng.randrange(300))
    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer, pagesize=A4)
    y = 790
    rows = [
        (vendor, 16), ("VAT No: GB" + str(rng.randint(100000000, 999999999)), 10),
        ("INVOICE", 14), (f"Invoice number: INV-2026-{number:04d}", 11),
        (f"Invoice date: {issued:%d %B %Y}", 11),
        (f"Due date: {issued + timedelta(days=30):%d %B %Y}", 11), ("Bill to: Demo Co", 11),
    ]  # fmt: skip
    rows += [
        (f"{name}   {qty} x {price:.2f}   {qty * price:.2f}", 11) for name, qty, price in items
    ]
    rows += [(f"Subtotal: £{subtotal:.2f}", 11), (f"VAT 20%: £{tax:.2f}", 11),
             (f"Total due: £{subtotal + tax:.2f}", 13)]  # fmt: skip
    for text, size in rows:
        pdf.setFont("Helvetica", size)
        pdf.drawString(60, y, text)
        y -= size + 14
    pdf.showPage()
    pdf.save()
    return buffer.getvalue()
