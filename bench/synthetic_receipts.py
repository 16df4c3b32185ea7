#!/usr/bin/env python3
"""80 synthetic receipts with known ground truth, unlike the SROIE receipts the reader was
fitted on: other countries' date orders and month names, currencies, total labels,
refunds, tips, A4 invoices, text and scanned PDFs, rotation, noise, 100 and 600 dpi.

Written by a probing helper (2026-12-05) to test whether confidences hold off the data
they were fitted on; ``bench/extraction_synthetic.py`` renders and scores them.
``python bench/synthetic_receipts.py DIR`` writes the files and DIR/truth.json.
Deterministic (seeded), apart from the PDFs' timestamps. Fonts: Debian's DejaVu and
Liberation TrueType fonts.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter, ImageFont

OUT = Path("synthetic-receipts")  # set by write()
FONTS = "/usr/share/fonts/truetype/"
MONO = FONTS + "dejavu/DejaVuSansMono.ttf"
MONO_B = FONTS + "dejavu/DejaVuSansMono-Bold.ttf"
LMONO = FONTS + "liberation/LiberationMono-Regular.ttf"
LMONO_B = FONTS + "liberation/LiberationMono-Bold.ttf"
SANS = FONTS + "dejavu/DejaVuSans.ttf"
SANS_B = FONTS + "dejavu/DejaVuSans-Bold.ttf"
LSANS = FONTS + "liberation/LiberationSans-Regular.ttf"
LSANS_B = FONTS + "liberation/LiberationSans-Bold.ttf"
SERIF_B = FONTS + "dejavu/DejaVuSerif-Bold.ttf"

R = random.Random(20261205)
TRUTH: dict[str, dict] = {}


# ---------------------------------------------------------------- money formats
def money(v: float, style: str = "dot") -> str:
    neg = v < 0
    v = abs(v)
    s = f"{v:,.2f}"  # 1,234.56
    if style == "comma":  # 1.234,56
        s = s.replace(",", "X").replace(".", ",").replace("X", ".")
    elif style == "space":  # 1 234,56
        s = s.replace(",", " ").replace(".", ",")
    elif style == "plain":
        s = f"{v:.2f}"
    return ("-" + s) if neg else s


# ---------------------------------------------------------------- row model
# rows: ("c", text, scale, bold) centred; ("l", text); ("lr", left, right); ("sep",);
# ("gap",); ("r", text); ("big", text, scale, font)


def C(text, scale=1.0, bold=False):
    return ("c", text, scale, bold)


def L(text, scale=1.0, bold=False):
    return ("l", text, scale, bold)


def LR(left, right, scale=1.0, bold=False):
    return ("lr", left, right, scale, bold)


def LMR(left, mid, right):
    return ("lmr", left, mid, right)


SEP = ("sep",)
GAP = ("gap",)


def row_style(row):
    if row[0] in ("c", "l", "r"):
        return row[2], row[3]
    if row[0] == "lr":
        return row[3], row[4]
    return 1.0, False


def render(rows, layout="thermal", font=None, bold_font=None, width=None, base=None):
    """Render rows to a white PIL image. thermal: ~80 mm at 203 dpi; a4: 200 dpi page."""
    if layout == "thermal":
        width = width or 576
        base = base or 22
        margin = 20
        font = font or MONO
        bold_font = bold_font or MONO_B
        height_min = 0
    else:
        width = width or 1654
        base = base or 30
        margin = 140
        font = font or SANS
        bold_font = bold_font or SANS_B
        height_min = 2339
    line_h = int(base * 1.45)
    ops = []
    y = margin
    for row in rows:
        kind = row[0]
        if kind == "gap":
            y += line_h // 2
            continue
        if kind == "sep":
            ops.append(("sep", y + line_h // 2))
            y += line_h
            continue
        if kind == "big":
            _, text, scale, fpath = row
            f = ImageFont.truetype(fpath, int(base * scale))
            ops.append(("c", y, text, f))
            y += int(base * scale * 1.35)
            continue
        scale, bold = row_style(row)
        f = ImageFont.truetype(bold_font if bold else font, int(base * scale))
        ops.append((kind, y, row, f))
        y += int(line_h * scale)
    height = max(y + margin, height_min)
    img = Image.new("L", (width, height), 255)
    d = ImageDraw.Draw(img)
    for op in ops:
        if op[0] == "sep":
            yy = op[1]
            d.line([(margin, yy), (width - margin, yy)], fill=40, width=2)
            continue
        kind, y, row, f = op
        if kind == "c" and isinstance(row, str):  # big
            text = row
        elif kind == "c":
            text = row[1]
        if kind == "c":
            w = d.textlength(text, font=f)
            d.text(((width - w) / 2, y), text, font=f, fill=0)
        elif kind == "l":
            d.text((margin, y), row[1], font=f, fill=0)
        elif kind == "r":
            w = d.textlength(row[1], font=f)
            d.text((width - margin - w, y), row[1], font=f, fill=0)
        elif kind == "lr":
            d.text((margin, y), row[1], font=f, fill=0)
            w = d.textlength(row[2], font=f)
            d.text((width - margin - w, y), row[2], font=f, fill=0)
        elif kind == "lmr":
            d.text((margin, y), row[1], font=f, fill=0)
            w = d.textlength(row[2], font=f)
            d.text((width * 0.62 - w, y), row[2], font=f, fill=0)
            w = d.textlength(row[3], font=f)
            d.text((width - margin - w, y), row[3], font=f, fill=0)
    return img


# ---------------------------------------------------------------- degradations
def degrade(img, rotate=0.0, noise=0.0, blur=0.0, scale=1.0, thermal_fade=False):
    img = img.convert("L")
    if thermal_fade:
        img = img.point(lambda p: 255 if p > 200 else min(255, p + 70))
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    if rotate:
        img = img.rotate(rotate, resample=Image.BICUBIC, expand=True, fillcolor=255)
    if scale != 1.0:
        img = img.resize((int(img.width * scale), int(img.height * scale)), Image.LANCZOS)
    if noise:
        rnd = random.Random(int(noise * 1000) + img.width)
        px = img.load()
        for _ in range(int(img.width * img.height * noise)):
            x, y = rnd.randrange(img.width), rnd.randrange(img.height)
            px[x, y] = rnd.choice((0, 90, 200, 255))
    return img


def save(img, name, quality=92, background=None):
    path = OUT / name
    if background is not None:  # paper on a darker table
        bg = Image.new("L", (img.width + 160, img.height + 160), background)
        bg.paste(img, (80, 80))
        img = bg
    if name.endswith(".jpg"):
        img.convert("RGB").save(path, "JPEG", quality=quality)
    else:
        img.save(path)
    return path.name


def truth(fname, name, address, date, total, tags, note=""):
    TRUTH[fname] = {
        "merchantName": name,
        "merchantAddress": address,
        "date": date,
        "totalAmount": total,
        "tags": tags,
        "note": note,
    }


# ---------------------------------------------------------------- templates
def items_rows(items, style="dot", cur="", width_cols=None, qty_col=False):
    rows = []
    for desc, qty, price in items:
        amt = round(qty * price, 2)
        if qty_col:
            rows.append(LMR(desc, f"{qty} x {money(price, style)}", cur + money(amt, style)))
        elif qty != 1:
            rows.append(L(desc))
            rows.append(LR(f"  {qty} @ {money(price, style)}", cur + money(amt, style)))
        else:
            rows.append(LR(desc, cur + money(amt, style)))
    return rows


def subtotal(items):
    return round(sum(round(q * p, 2) for _, q, p in items), 2)


def my_receipt(
    fid,
    *,
    name_lines,
    reg,
    addr_lines,
    date_str,
    date_iso,
    total_label,
    items,
    cur="RM",
    rounding=True,
    discount=0.0,
    service=False,
    tax_rate=0.06,
    tax_name="SST",
    cash=None,
    time_str="14:32",
    render_kw=None,
    deg=None,
    ext="png",
    tags=(),
    note="",
    label_date="DATE:",
    extra_top=(),
):
    """Malaysian-style thermal receipt (the tuning domain, varied)."""
    sub = subtotal(items)
    disc = round(sub * discount, 2)
    svc = round((sub - disc) * 0.10, 2) if service else 0.0
    tax = round((sub - disc + svc) * tax_rate, 2)
    raw_total = round(sub - disc + svc + tax, 2)
    total = raw_total
    rnd = 0.0
    if rounding:
        total = round(round(raw_total * 20) / 20, 2)
        rnd = round(total - raw_total, 2)
    rows = []
    for i, nl in enumerate(name_lines):
        rows.append(C(nl, 1.15 if i == 0 else 1.0, True))
    if reg:
        rows.append(C(reg))
    for a in addr_lines:
        rows.append(C(a))
    rows += [C("TEL: 03-7876 1234"), *extra_top, C("TAX INVOICE", 1.0, True), GAP]
    rows.append(L(f"DOC NO: CS{R.randint(10000000, 99999999)}"))
    rows.append(
        L(f"{label_date} {date_str}  TIME: {time_str}" if label_date else f"{date_str} {time_str}")
    )
    rows.append(L("CASHIER: AMIRAH"))
    rows.append(SEP)
    rows.append(LR("ITEM", "AMT(RM)"))
    rows.append(SEP)
    rows += items_rows(items, cur="")
    rows.append(SEP)
    rows.append(LR("SUB TOTAL", money(sub)))
    if disc:
        rows.append(LR("DISCOUNT 10%", money(-disc)))
    if service:
        rows.append(LR("SERVICE CHARGE 10%", money(svc)))
    if tax_rate:
        rows.append(LR(f"{tax_name} {int(tax_rate * 100)}%", money(tax)))
    if rounding:
        rows.append(LR("ROUNDING ADJ", money(rnd)))
    rows.append(LR(total_label, f"{cur} {money(total)}" if cur else money(total), 1.0, True))
    if cash is not None:
        cash_v = cash if cash else (int(total // 10) + 1) * 10.0
        rows.append(LR("CASH", money(cash_v)))
        rows.append(LR("CHANGE", money(round(cash_v - total, 2))))
    rows += [SEP, C("THANK YOU. PLEASE COME AGAIN"), C("GOODS SOLD ARE NOT RETURNABLE")]
    img = render(rows, "thermal", **(render_kw or {}))
    img = degrade(img, **(deg or {}))
    fname = save(img, f"{fid}.{ext}", quality=(deg or {}).get("q", 90) if False else 90)
    truth(fname, " ".join(name_lines), " ".join(addr_lines), date_iso, total, list(tags), note)
    return fname


def us_receipt(
    fid,
    *,
    name_rows,
    name,
    addr_lines,
    date_str,
    date_iso,
    items,
    tax_rate=0.08875,
    total_label="TOTAL",
    dollar=True,
    tender="VISA",
    tip=None,
    suggested_tips=False,
    balance_due=False,
    time_str="7:42 PM",
    render_kw=None,
    deg=None,
    ext="png",
    tags=(),
    note="",
    header_extra=(),
    refund=False,
    quality=90,
    background=None,
    server=True,
):
    cur = "$" if dollar else ""
    sub = subtotal(items)
    tax = round(sub * tax_rate, 2)
    total = round(sub + tax, 2)
    sign = -1 if refund else 1
    rows = list(name_rows)
    rows += [C(a) for a in addr_lines]
    rows += [C("(415) 555-0199"), *header_extra, GAP]
    if server:
        rows.append(LR("Server: Maria", "Table 12"))
    rows.append(LR(date_str, time_str))
    rows.append(
        L(
            f"Check #{R.randint(1000, 9999)}  Guests: 2"
            if server
            else f"TRN {R.randint(1000, 9999)} REG 03"
        )
    )
    if refund:
        rows.append(C("*** RETURN ***", 1.0, True))
    rows.append(SEP)
    for desc, q, p in items:
        amt = round(q * p, 2) * sign
        rows.append(
            LR(f"{q} {desc}" if q != 1 else desc, (cur + money(abs(amt)) + ("-" if refund else "")))
        )
    rows.append(SEP)

    def amt(v):
        return cur + money(abs(v)) + ("-" if v < 0 else "")

    rows.append(LR("Subtotal", amt(sign * sub)))
    rows.append(LR(f"Sales Tax {tax_rate * 100:.3f}%".replace(".000%", "%"), amt(sign * tax)))
    gt = sign * total
    if tip is not None:
        rows.append(LR("Total", amt(total), 1.0, True))
        rows.append(LR("Tip", amt(tip)))
        gt = round(total + tip, 2)
        rows.append(LR("TOTAL", amt(gt), 1.1, True))
    elif balance_due:
        rows.append(LR("BALANCE DUE", amt(gt), 1.1, True))
    else:
        rows.append(LR(total_label, amt(gt), 1.1, True))
    if tender == "VISA":
        rows.append(LR("VISA **** 4821", amt(gt)))
        rows.append(L("AUTH CODE: 08213B"))
    elif tender == "CASH":
        cash_v = (int(gt // 20) + 1) * 20.0
        rows.append(LR("CASH", amt(cash_v)))
        rows.append(LR("CHANGE DUE", amt(round(cash_v - gt, 2))))
    elif tender == "REFUND":
        rows.append(LR("VISA REFUND", amt(gt)))
    if suggested_tips:
        rows += [
            GAP,
            C("Suggested Gratuity"),
        ]
        for pct in (18, 20, 22):
            rows.append(
                LR(
                    f"{pct}% = {cur}{money(total * pct / 100)}",
                    f"Total {cur}{money(total * (1 + pct / 100))}",
                )
            )
        rows += [GAP, LR("Tip:", "________"), LR("Total:", "________")]
    rows += [GAP, C("Thank you for dining with us!" if server else "THANK YOU FOR SHOPPING")]
    img = render(rows, "thermal", **(render_kw or {}))
    img = degrade(img, **(deg or {}))
    fname = save(img, f"{fid}.{ext}", quality=quality, background=background)
    truth(fname, name, " ".join(addr_lines), date_iso, gt, list(tags), note)
    return fname


def eu_receipt(
    fid,
    *,
    name_rows,
    name,
    addr_lines,
    date_str,
    date_iso,
    items,
    style="comma",
    cur_suffix=" EUR",
    total_label="TOTAL",
    vat_label="MwSt 19%",
    vat_rate=0.19,
    cash=True,
    render_kw=None,
    deg=None,
    ext="png",
    tags=(),
    note="",
    pay_labels=("BAR", "RÜCKGELD"),
    extra_before=(),
):
    sub = subtotal(items)  # gross prices (VAT included, as in EU retail)
    total = sub
    rows = list(name_rows) + [C(a) for a in addr_lines] + [*extra_before, GAP]
    rows.append(LR(date_str, "14:03"))
    rows.append(L(f"Bon-Nr. {R.randint(1000, 9999)}   Kasse 2"))
    rows.append(SEP)
    for desc, q, p in items:
        a = round(q * p, 2)
        if q != 1:
            rows.append(L(desc))
            rows.append(LR(f"  {q} x {money(p, style)}", money(a, style) + " A"))
        else:
            rows.append(LR(desc, money(a, style) + " A"))
    rows.append(SEP)
    rows.append(LR(total_label, money(total, style) + cur_suffix, 1.15, True))
    if cash:
        given = (int(total // 50) + 1) * 50.0
        rows.append(LR(pay_labels[0], money(given, style)))
        rows.append(LR(pay_labels[1], money(round(given - total, 2), style)))
    else:
        rows.append(LR("KARTE / CARD", money(total, style)))
    net = round(total / (1 + vat_rate), 2)
    rows += [
        GAP,
        LMR(
            "A " + vat_label,
            "Netto " + money(net, style),
            "Steuer " + money(round(total - net, 2), style),
        ),
    ]
    rows += [GAP, C("Vielen Dank für Ihren Einkauf!")]
    img = render(rows, "thermal", **(render_kw or {}))
    img = degrade(img, **(deg or {}))
    fname = save(img, f"{fid}.{ext}")
    truth(fname, name, " ".join(addr_lines), date_iso, total, list(tags), note)
    return fname


def invoice_rows(*, seller, seller_addr, meta, lines_, summary, style="dot", cur="", extra=()):
    rows = [("big", seller[0], 1.7, SANS_B)] + [C(s) for s in seller[1:]]
    rows += [C(a) for a in seller_addr] + [GAP, C("INVOICE", 1.3, True), GAP]
    rows += [LR(k, v) for k, v in meta]
    rows += [GAP, L("Bill to: Northwind Traders, 9 Harbour Rd"), GAP, SEP]
    rows.append(LMR("Description", "Qty x Unit", "Amount"))
    rows.append(SEP)
    for desc, q, p in lines_:
        rows.append(LMR(desc, f"{q} x {money(p, style)}", cur + money(round(q * p, 2), style)))
    rows.append(SEP)
    for lab, v, big in summary:
        rows.append(LR(lab, v, 1.15 if big else 1.0, big))
    rows += list(extra)
    return rows


# ---------------------------------------------------------------- text PDFs
def text_pdf(fname, pages_rows, pagesize="a4"):
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    path = OUT / fname
    if pagesize == "a4":
        W, H = A4
        margin, fs = 56, 10
    else:  # 80 mm roll
        W, H = 226, 700
        margin, fs = 10, 7.5
    c = canvas.Canvas(str(path), pagesize=(W, H))
    for rows in pages_rows:
        y = H - margin
        for row in rows:
            kind = row[0]
            if kind == "gap":
                y -= fs * 0.8
                continue
            if kind == "sep":
                c.line(margin, y - fs * 0.4, W - margin, y - fs * 0.4)
                y -= fs * 1.4
                continue
            if kind == "big":
                size = fs * row[2]
                c.setFont("Helvetica-Bold", size)
                c.drawCentredString(W / 2, y - size, row[1])
                y -= size * 1.35
                continue
            scale, bold = row_style(row)
            size = fs * scale
            face = (
                "Courier-Bold"
                if (bold and pagesize != "a4")
                else "Courier"
                if pagesize != "a4"
                else ("Helvetica-Bold" if bold else "Helvetica")
            )
            c.setFont(face, size)
            yy = y - size
            if kind == "c":
                c.drawCentredString(W / 2, yy, row[1])
            elif kind == "l":
                c.drawString(margin, yy, row[1])
            elif kind == "r":
                c.drawRightString(W - margin, yy, row[1])
            elif kind == "lr":
                c.drawString(margin, yy, row[1])
                c.drawRightString(W - margin, yy, row[2])
            elif kind == "lmr":
                c.drawString(margin, yy, row[1])
                c.drawRightString(W * 0.62, yy, row[2])
                c.drawRightString(W - margin, yy, row[3])
            y -= size * 1.45
        c.showPage()
    c.save()
    return fname


def image_pdf(fname, images, dpi=200):
    path = OUT / fname
    rgb = [im.convert("RGB") for im in images]
    rgb[0].save(path, "PDF", resolution=dpi, save_all=True, append_images=rgb[1:])
    return fname


# ================================================================= the set
MY_ITEMS = [
    ("MILO 3IN1 18S", 1, 15.90),
    ("GARDENIA WHITE BREAD", 2, 3.80),
    ("DUTCH LADY UHT 1L", 1, 6.49),
    ("MAGGI KARI 5S", 1, 5.35),
]
MY_ITEMS2 = [
    ("NASI LEMAK AYAM", 2, 12.90),
    ("TEH TARIK", 2, 3.50),
    ("ROTI CANAI", 3, 1.80),
    ("MEE GORENG MAMAK", 1, 9.90),
]
MY_ITEMS3 = [("PVC PIPE 1/2 IN", 4, 7.50), ("CEMENT 50KG", 2, 23.00), ("PAINT BRUSH 2IN", 1, 4.20)]
US_ITEMS = [
    ("Caesar Salad", 1, 12.50),
    ("Ribeye Steak", 1, 38.00),
    ("Glass House Red", 2, 14.00),
    ("Creme Brulee", 1, 9.50),
]
US_RETAIL = [
    ("ORGANIC BANANAS", 1, 2.49),
    ("WHOLE MILK 1GAL", 1, 4.79),
    ("EGGS LARGE 12CT", 1, 5.99),
    ("SOURDOUGH LOAF", 1, 6.50),
    ("PAPER TOWELS 6PK", 1, 11.99),
]
AU_ITEMS = [("Flat White", 2, 5.20), ("Smashed Avo", 1, 19.50), ("Banana Bread", 1, 6.80)]
EU_ITEMS = [
    ("Bio Vollmilch 1L", 2, 1.49),
    ("Roggenbrot", 1, 3.29),
    ("Gouda 400g", 1, 4.99),
    ("Äpfel 1kg", 1, 2.79),
    ("Kaffee 500g", 1, 8.99),
]

MY_NAME = ["KEDAI RUNCIT AH SENG SDN BHD"]
MY_REG = "(123456-X)"
MY_ADDR = ["NO 12, JALAN SS 2/24,", "47300 PETALING JAYA, SELANGOR"]


def build():
    files = []
    # ---------------- A. Malaysian control / tuning-domain variations --------------
    date_variants = [
        ("05/12/2026", "dmy-slash"),
        ("05-12-2026", "dmy-dash"),
        ("05.12.2026", "dmy-dot"),
        ("2026-12-05", "iso"),
        ("5 Dec 2026", "d-Mon-y"),
        ("Dec 5, 2026", "Mon-d-y"),
        ("05/12/26", "dmy-2digit"),
        ("05-DEC-26", "d-MON-yy"),
    ]
    labels = [
        "TOTAL",
        "GRAND TOTAL",
        "NETT TOTAL",
        "JUMLAH",
        "TOTAL (INCL. SST)",
        "NETT",
        "AMOUNT DUE",
        "TOTAL RM",
    ]
    for i, (ds, dtag) in enumerate(date_variants):
        lab = labels[i]
        files.append(
            my_receipt(
                f"a{i:02d}_my_{dtag}",
                name_lines=MY_NAME,
                reg=MY_REG,
                addr_lines=MY_ADDR,
                date_str=ds,
                date_iso="2026-12-05",
                total_label=lab,
                items=MY_ITEMS,
                cash=(0 if i % 2 == 0 else None),
                rounding=(i % 3 != 2),
                cur=("RM" if i % 2 else ""),
                tags=["my", "thermal", f"date:{dtag}", f"label:{lab}"],
            )
        )
    # two-line name, no postcode address, service charge, discount
    files.append(
        my_receipt(
            "a10_my_twoline_name_service",
            name_lines=["GOLDEN DRAGON", "CHINESE RESTAURANT"],
            reg="",
            addr_lines=["LOT 3, JALAN MEWAH 2,", "TAMAN MEWAH, KLANG"],
            date_str="05/12/2026",
            date_iso="2026-12-05",
            total_label="TOTAL",
            items=MY_ITEMS2,
            service=True,
            cash=0,
            tags=["my", "two-line-name", "no-postcode", "service-charge"],
        )
    )
    files.append(
        my_receipt(
            "a11_my_discount",
            name_lines=["SYARIKAT HARDWARE BINA JAYA"],
            reg="(JM0456789-T)",
            addr_lines=["NO 8, JALAN PERUSAHAAN 3,", "81200 JOHOR BAHRU, JOHOR"],
            date_str="05/12/2026",
            date_iso="2026-12-05",
            total_label="GRAND TOTAL",
            items=MY_ITEMS3,
            discount=0.10,
            cash=100.0,
            tags=["my", "discount"],
        )
    )
    files.append(
        my_receipt(
            "a12_my_jumlah_besar",
            name_lines=["PERNIAGAAN MAJU JAYA"],
            reg="(AS0123456-K)",
            addr_lines=["NO 45, JALAN BESAR,", "35900 TANJUNG MALIM, PERAK"],
            date_str="05/12/2026",
            date_iso="2026-12-05",
            total_label="JUMLAH BESAR",
            items=MY_ITEMS2,
            tax_rate=0.0,
            cash=0,
            tags=["my", "malay-label", "no-tax"],
        )
    )
    # logo-like big name
    files.append(
        my_receipt(
            "a13_my_lowres100dpi",
            name_lines=MY_NAME,
            reg=MY_REG,
            addr_lines=MY_ADDR,
            date_str="05/12/2026",
            date_iso="2026-12-05",
            total_label="TOTAL",
            items=MY_ITEMS,
            cash=0,
            deg={"scale": 0.5},
            ext="png",
            tags=["my", "low-res-100dpi"],
        )
    )
    files.append(
        my_receipt(
            "a14_my_rot_noise_jpeg",
            name_lines=MY_NAME,
            reg=MY_REG,
            addr_lines=MY_ADDR,
            date_str="05/12/2026",
            date_iso="2026-12-05",
            total_label="TOTAL",
            items=MY_ITEMS,
            cash=0,
            deg={"rotate": 2.5, "noise": 0.01, "blur": 0.6},
            ext="jpg",
            tags=["my", "rotated", "noise", "jpeg"],
        )
    )
    files.append(
        my_receipt(
            "a15_my_highres",
            name_lines=MY_NAME,
            reg=MY_REG,
            addr_lines=MY_ADDR,
            date_str="05/12/2026",
            date_iso="2026-12-05",
            total_label="TOTAL",
            items=MY_ITEMS,
            cash=0,
            deg={"scale": 3.0},
            ext="png",
            tags=["my", "high-res-600dpi"],
        )
    )
    files.append(
        my_receipt(
            "a16_my_rot_minus",
            name_lines=MY_NAME,
            reg=MY_REG,
            addr_lines=MY_ADDR,
            date_str="05.12.2026",
            date_iso="2026-12-05",
            total_label="NETT TOTAL",
            items=MY_ITEMS2,
            service=True,
            cash=0,
            deg={"rotate": -3.5, "thermal_fade": True},
            ext="jpg",
            tags=["my", "rotated", "faded"],
        )
    )
    # promo validity date printed above the sale date (rival dates)
    files.append(
        my_receipt(
            "a17_my_promo_date",
            name_lines=MY_NAME,
            reg=MY_REG,
            addr_lines=MY_ADDR,
            date_str="05/12/2026",
            date_iso="2026-12-05",
            total_label="TOTAL",
            items=MY_ITEMS,
            cash=0,
            label_date="",
            extra_top=[C("PROMO 01/12/2026 - 31/12/2026")],
            tags=["my", "rival-date", "unlabelled-date"],
        )
    )

    # ---------------- B. US receipts ($, month-first dates, tips) -----------------------
    blue = [("big", "THE BLUE DOOR", 2.0, SERIF_B), C("BISTRO & BAR")]
    us_addr = ["1420 Market Street", "San Francisco, CA 94103"]
    files.append(
        us_receipt(
            "b00_us_tip_printed",
            name_rows=blue,
            name="THE BLUE DOOR BISTRO & BAR",
            addr_lines=us_addr,
            date_str="Dec 5, 2026",
            date_iso="2026-12-05",
            items=US_ITEMS,
            tip=18.00,
            tags=["us", "logo-name", "tip", "date:Mon-d-y"],
        )
    )
    files.append(
        us_receipt(
            "b01_us_suggested_tips",
            name_rows=blue,
            name="THE BLUE DOOR BISTRO & BAR",
            addr_lines=us_addr,
            date_str="12/05/2026",
            date_iso="2026-12-05",
            items=US_ITEMS,
            suggested_tips=True,
            tags=["us", "logo-name", "suggested-tips", "date:mdy"],
        )
    )
    files.append(
        us_receipt(
            "b02_us_12-05-26",
            name_rows=blue,
            name="THE BLUE DOOR BISTRO & BAR",
            addr_lines=us_addr,
            date_str="12/05/26",
            date_iso="2026-12-05",
            items=US_ITEMS,
            tender="CASH",
            tags=["us", "date:mdy-2digit", "cash-change"],
        )
    )
    qm = [C("QUICKMART #1043", 1.3, True)]
    qm_addr = ["250 W 34th St", "New York, NY 10001"]
    files.append(
        us_receipt(
            "b03_us_grocery_nodollar",
            name_rows=qm,
            name="QUICKMART #1043",
            addr_lines=qm_addr,
            date_str="12/05/2026",
            date_iso="2026-12-05",
            items=US_RETAIL,
            dollar=False,
            tax_rate=0.04,
            tender="VISA",
            time_str="09:15",
            server=False,
            tags=["us", "no-currency-symbol", "date:mdy"],
            note="US grocery receipts often print no $ sign; month-first date",
        )
    )
    files.append(
        us_receipt(
            "b04_us_grocery_nodollar_cash",
            name_rows=qm,
            name="QUICKMART #1043",
            addr_lines=qm_addr,
            date_str="12/05/26",
            date_iso="2026-12-05",
            items=US_RETAIL,
            dollar=False,
            tax_rate=0.04,
            tender="CASH",
            time_str="09:15",
            server=False,
            tags=["us", "no-currency-symbol", "date:mdy-2digit", "cash-change"],
        )
    )
    files.append(
        us_receipt(
            "b05_us_balance_due",
            name_rows=qm,
            name="QUICKMART #1043",
            addr_lines=qm_addr,
            date_str="2026-12-05",
            date_iso="2026-12-05",
            items=US_RETAIL,
            balance_due=True,
            tax_rate=0.04,
            tender="VISA",
            time_str="09:15",
            server=False,
            tags=["us", "label:BALANCE DUE", "date:iso"],
        )
    )
    files.append(
        us_receipt(
            "b06_us_amount_due",
            name_rows=qm,
            name="QUICKMART #1043",
            addr_lines=qm_addr,
            date_str="Dec 5, 2026",
            date_iso="2026-12-05",
            items=US_RETAIL,
            total_label="AMOUNT DUE",
            tax_rate=0.04,
            tender="CASH",
            time_str="09:15",
            server=False,
            tags=["us", "label:AMOUNT DUE", "cash-change"],
        )
    )
    files.append(
        us_receipt(
            "b07_us_refund_trailing_minus",
            name_rows=qm,
            name="QUICKMART #1043",
            addr_lines=qm_addr,
            date_str="12/05/2026",
            date_iso="2026-12-05",
            items=US_RETAIL[:2],
            tax_rate=0.04,
            tender="REFUND",
            time_str="09:15",
            server=False,
            refund=True,
            tags=["us", "refund", "trailing-minus"],
        )
    )
    files.append(
        us_receipt(
            "b08_us_refund_amount_due",
            name_rows=qm,
            name="QUICKMART #1043",
            addr_lines=qm_addr,
            date_str="12/05/2026",
            date_iso="2026-12-05",
            items=US_RETAIL[:2],
            tax_rate=0.04,
            total_label="AMOUNT DUE",
            tender="REFUND",
            time_str="09:15",
            server=False,
            refund=True,
            tags=["us", "refund", "trailing-minus", "label:AMOUNT DUE"],
        )
    )
    files.append(
        us_receipt(
            "b09_us_photo_jpeg",
            name_rows=blue,
            name="THE BLUE DOOR BISTRO & BAR",
            addr_lines=us_addr,
            date_str="Dec 5, 2026",
            date_iso="2026-12-05",
            items=US_ITEMS,
            tip=20.00,
            deg={"rotate": 1.8, "noise": 0.02, "blur": 0.8},
            ext="jpg",
            quality=25,
            background=110,
            tags=["us", "tip", "rotated", "noise", "jpeg-q25", "background"],
        )
    )

    # ---------------- C. '$' but day-first locales (AU / SG / NZ / CA) --------------------
    cafe = [C("BEAN THERE CAFE", 1.4, True)]
    au_addr = ["45 Smith St", "Fitzroy VIC 3065"]
    files.append(
        us_receipt(
            "c00_au_dollar_ddmm",
            name_rows=cafe,
            name="BEAN THERE CAFE",
            addr_lines=au_addr,
            date_str="05/12/2026",
            date_iso="2026-12-05",
            items=AU_ITEMS,
            tax_rate=0.10,
            total_label="TOTAL",
            tender="VISA",
            time_str="10:22",
            server=False,
            header_extra=[C("ABN 12 345 678 901")],
            tags=["au", "dollar", "date:dmy", "ambiguous-day-month"],
            note="Australian: $ and dd/mm/yyyy",
        )
    )
    files.append(
        us_receipt(
            "c01_au_dollar_ddmm_unambig",
            name_rows=cafe,
            name="BEAN THERE CAFE",
            addr_lines=au_addr,
            date_str="13/12/2026",
            date_iso="2026-12-13",
            items=AU_ITEMS,
            tax_rate=0.10,
            total_label="TOTAL",
            tender="VISA",
            time_str="10:22",
            server=False,
            header_extra=[C("ABN 12 345 678 901")],
            tags=["au", "dollar", "date:dmy-unambiguous"],
            note="13/12 cannot be month-first",
        )
    )
    sg = [C("AH HUAT KOPITIAM", 1.3, True)]
    sg_addr = ["Blk 123 Ang Mo Kio Ave 3", "#01-45 Singapore 560123"]
    files.append(
        us_receipt(
            "c02_sg_dollar_ddmm",
            name_rows=sg,
            name="AH HUAT KOPITIAM",
            addr_lines=sg_addr,
            date_str="05/12/2026",
            date_iso="2026-12-05",
            items=AU_ITEMS,
            tax_rate=0.09,
            total_label="TOTAL",
            tender="CASH",
            time_str="10:22",
            server=False,
            header_extra=[C("GST Reg No: M2-0012345-6")],
            tags=["sg", "dollar", "date:dmy"],
        )
    )
    files.append(
        us_receipt(
            "c03_sg_sgd_ddmm",
            name_rows=sg,
            name="AH HUAT KOPITIAM",
            addr_lines=sg_addr,
            date_str="05/12/2026",
            date_iso="2026-12-05",
            items=AU_ITEMS,
            tax_rate=0.09,
            total_label="TOTAL SGD",
            tender="CASH",
            time_str="10:22",
            server=False,
            header_extra=[C("GST Reg No: M2-0012345-6")],
            tags=["sg", "sgd-code", "date:dmy"],
        )
    )
    files.append(
        us_receipt(
            "c04_nz_dollar_ddmmyy",
            name_rows=[C("KIWI FRESH", 1.4, True), C("FRUIT & VEGE")],
            name="KIWI FRESH FRUIT & VEGE",
            addr_lines=["88 Dominion Road", "Mt Eden, Auckland 1024"],
            date_str="05/12/26",
            date_iso="2026-12-05",
            items=US_RETAIL,
            tax_rate=0.15,
            total_label="TOTAL",
            tender="CASH",
            time_str="16:05",
            server=False,
            tags=["nz", "dollar", "date:dmy-2digit", "two-line-name"],
        )
    )

    # ---------------- D. European comma decimals ----------------------------------------
    bio = [C("BIOMARKT GRÜNHOF", 1.3, True)]
    de_addr = ["Hauptstraße 12", "10115 Berlin"]
    files.append(
        eu_receipt(
            "d00_de_comma_total",
            name_rows=bio,
            name="BIOMARKT GRÜNHOF",
            addr_lines=de_addr,
            date_str="05.12.2026",
            date_iso="2026-12-05",
            items=EU_ITEMS,
            tags=["de", "comma-decimal", "date:dmy-dot"],
        )
    )
    files.append(
        eu_receipt(
            "d01_de_summe",
            name_rows=bio,
            name="BIOMARKT GRÜNHOF",
            addr_lines=de_addr,
            date_str="05.12.2026",
            date_iso="2026-12-05",
            items=EU_ITEMS,
            total_label="SUMME",
            tags=["de", "comma-decimal", "label:SUMME"],
            note="German total label",
        )
    )
    elec = [C("ELEKTRO WAGNER GMBH", 1.3, True)]
    big_items = [
        ("Notebook ProBook 15", 1, 1099.00),
        ("USB-C Dock", 1, 129.90),
        ("Kabel HDMI 2m", 1, 5.66),
    ]
    files.append(
        eu_receipt(
            "d02_de_thousands_comma",
            name_rows=elec,
            name="ELEKTRO WAGNER GMBH",
            addr_lines=["Königstraße 40", "70173 Stuttgart"],
            date_str="05.12.2026",
            date_iso="2026-12-05",
            items=big_items,
            cash=False,
            tags=["de", "comma-decimal", "thousands-dot", "1.234,56"],
        )
    )
    files.append(
        eu_receipt(
            "d03_de_thousands_cash",
            name_rows=elec,
            name="ELEKTRO WAGNER GMBH",
            addr_lines=["Königstraße 40", "70173 Stuttgart"],
            date_str="05.12.26",
            date_iso="2026-12-05",
            items=big_items,
            cash=True,
            tags=["de", "comma-decimal", "thousands-dot", "cash-change", "date:dmy-dot-2digit"],
        )
    )
    fr = [C("BOULANGERIE DUPONT", 1.3, True)]
    files.append(
        eu_receipt(
            "d04_fr_space_thousands",
            name_rows=fr,
            name="BOULANGERIE DUPONT",
            addr_lines=["12 Rue de la Paix", "75002 Paris"],
            date_str="05/12/2026",
            date_iso="2026-12-05",
            items=[
                ("Pièce montée 80 parts", 1, 1180.00),
                ("Baguette", 4, 1.30),
                ("Croissant", 6, 1.25),
            ],
            style="space",
            cur_suffix=" €",
            total_label="TOTAL TTC",
            vat_label="TVA 5,5%",
            vat_rate=0.055,
            cash=False,
            tags=["fr", "comma-decimal", "space-thousands", "label:TOTAL TTC"],
        )
    )

    # ---------------- E. UK (£, VAT, service charge, NET AMOUNT) -------------------------
    uk_rows = [C("THE RED LION", 1.4, True), C("FREE HOUSE")]
    uk_addr = ["48 Parliament Street", "London SW1A 2NH"]
    uk_items = [("Fish & Chips", 2, 16.50), ("Sunday Roast", 1, 19.00), ("Pint Bitter", 3, 5.80)]
    sub = subtotal(uk_items)
    svc = round(sub * 0.125, 2)
    tot = round(sub + svc, 2)
    rows = (
        uk_rows
        + [C(a) for a in uk_addr]
        + [C("VAT No: GB 123 4567 89"), GAP, LR("05/12/2026", "20:14"), L("Table 7  Covers 3"), SEP]
    )
    rows += items_rows(uk_items, cur="£")
    rows += [
        SEP,
        LR("Subtotal", f"£{money(sub)}"),
        LR("Service charge 12.5%", f"£{money(svc)}"),
        LR("TOTAL TO PAY", f"£{money(tot)}", 1.1, True),
        LR("Mastercard", f"£{money(tot)}"),
        GAP,
        LR("VAT @ 20% incl.", f"£{money(round(tot / 6, 2))}"),
        C("Thank you, cheers!"),
    ]
    img = render(rows)
    fname = save(img, "e00_uk_service_total_to_pay.png")
    truth(
        fname,
        "THE RED LION FREE HOUSE",
        " ".join(uk_addr),
        "2026-12-05",
        tot,
        ["uk", "pound", "service-charge", "label:TOTAL TO PAY", "no-5digit-postcode"],
    )
    files.append(fname)
    # UK invoice-like with NET AMOUNT (= before VAT!) and TOTAL
    net = 250.00
    vat = 50.00
    rows = invoice_rows(
        seller=["BRIGHTSPARK ELECTRICAL LTD"],
        seller_addr=["Unit 4, Riverside Trading Estate", "Leeds LS11 5QP"],
        meta=[
            ("Invoice No:", "INV-20931"),
            ("Invoice Date:", "05/12/2026"),
            ("Payment terms:", "Paid on site"),
        ],
        lines_=[("Call-out and labour", 2, 85.00), ("Consumer unit RCD", 1, 80.00)],
        summary=[
            ("NET AMOUNT", f"£{money(net)}", False),
            ("VAT 20%", f"£{money(vat)}", False),
            ("TOTAL", f"£{money(net + vat)}", True),
            ("PAID BY CARD", f"£{money(net + vat)}", False),
        ],
        cur="£",
    )
    img = render(rows, "a4")
    fname = save(img, "e01_uk_invoice_net_amount.png")
    truth(
        fname,
        "BRIGHTSPARK ELECTRICAL LTD",
        "Unit 4, Riverside Trading Estate Leeds LS11 5QP",
        "2026-12-05",
        net + vat,
        ["uk", "a4", "label:NET AMOUNT=pre-tax"],
        "NET AMOUNT is pre-VAT",
    )
    files.append(fname)
    # same without the card line
    rows = invoice_rows(
        seller=["BRIGHTSPARK ELECTRICAL LTD"],
        seller_addr=["Unit 4, Riverside Trading Estate", "Leeds LS11 5QP"],
        meta=[
            ("Invoice No:", "INV-20932"),
            ("Invoice Date:", "5 December 2026"),
            ("Due Date:", "4 January 2027"),
        ],
        lines_=[("Call-out and labour", 2, 85.00), ("Consumer unit RCD", 1, 80.00)],
        summary=[
            ("Net amount", f"£{money(net)}", False),
            ("VAT @ 20%", f"£{money(vat)}", False),
            ("Total", f"£{money(net + vat)}", True),
        ],
        cur="£",
    )
    img = render(rows, "a4")
    fname = save(img, "e02_uk_invoice_net_amount_due_date.png")
    truth(
        fname,
        "BRIGHTSPARK ELECTRICAL LTD",
        "Unit 4, Riverside Trading Estate Leeds LS11 5QP",
        "2026-12-05",
        net + vat,
        ["uk", "a4", "label:NET AMOUNT=pre-tax", "due-date", "date:d-Month-y"],
    )
    files.append(fname)

    # ---------------- F. A4 invoices, multi-page PDFs, text PDFs ------------------------
    inv_lines = [(f"Consulting services week {i}", 1, 1250.00 + i * 10) for i in range(1, 5)]
    inv_sub = subtotal(inv_lines)
    inv_tax = round(inv_sub * 0.08, 2)
    inv_tot = round(inv_sub + inv_tax, 2)
    base_summary = [
        ("Subtotal", money(inv_sub), False),
        ("SST 8%", money(inv_tax), False),
        ("BALANCE DUE", "RM " + money(inv_tot), True),
    ]
    inv_kwargs = dict(
        seller=["TEKNOLOGI MAJU SDN BHD", "(987654-W)"],
        seller_addr=["Level 9, Menara Binjai, 2 Jalan Binjai", "50450 Kuala Lumpur"],
        meta=[("Invoice No:", "TM-2026-1187"), ("Date:", "05 Dec 2026"), ("Due:", "04 Jan 2027")],
        lines_=inv_lines,
        summary=base_summary,
    )
    inv_name, inv_addr = (
        "TEKNOLOGI MAJU SDN BHD",
        "Level 9, Menara Binjai, 2 Jalan Binjai 50450 Kuala Lumpur",
    )
    img = render(invoice_rows(**inv_kwargs), "a4")
    files.append(save(img, "f00_a4_invoice_balance_due.png"))
    truth(
        files[-1],
        inv_name,
        inv_addr,
        "2026-12-05",
        inv_tot,
        ["a4", "thousands", "label:BALANCE DUE", "due-date"],
    )
    files.append(text_pdf("f01_a4_invoice_textpdf.pdf", [invoice_rows(**inv_kwargs)]))
    truth(
        files[-1],
        inv_name,
        inv_addr,
        "2026-12-05",
        inv_tot,
        ["a4", "text-pdf", "label:BALANCE DUE"],
    )
    # two-page: items on page 1, totals on page 2 (header repeated)
    many = [(f"Item {i:02d} spare part", 1, 10.00 + i) for i in range(1, 41)]
    m_sub = subtotal(many)
    m_tax = round(m_sub * 0.06, 2)
    m_tot = round(m_sub + m_tax, 2)
    p1 = invoice_rows(
        seller=inv_kwargs["seller"],
        seller_addr=inv_kwargs["seller_addr"],
        meta=[("Invoice No:", "TM-2026-1188"), ("Date:", "05/12/2026"), ("Page:", "1 of 2")],
        lines_=many[:30],
        summary=[("Carried forward", money(subtotal(many[:30])), False)],
    )
    p2 = invoice_rows(
        seller=inv_kwargs["seller"],
        seller_addr=inv_kwargs["seller_addr"],
        meta=[("Invoice No:", "TM-2026-1188"), ("Date:", "05/12/2026"), ("Page:", "2 of 2")],
        lines_=[("Brought forward", 1, subtotal(many[:30]))] + many[30:],
        summary=[
            ("Subtotal", money(m_sub), False),
            ("SST 6%", money(m_tax), False),
            ("TOTAL PAYABLE", "RM " + money(m_tot), True),
        ],
    )
    files.append(text_pdf("f02_a4_twopage_textpdf.pdf", [p1, p2]))
    truth(
        files[-1],
        inv_name,
        inv_addr,
        "2026-12-05",
        m_tot,
        ["a4", "text-pdf", "multi-page", "carried-forward"],
    )
    files.append(
        image_pdf(
            "f03_a4_twopage_scanpdf.pdf", [render(p1, "a4"), degrade(render(p2, "a4"), rotate=0.8)]
        )
    )
    truth(
        files[-1],
        inv_name,
        inv_addr,
        "2026-12-05",
        m_tot,
        ["a4", "scan-pdf", "multi-page", "carried-forward"],
    )
    # thermal text PDF (e-receipt)
    ereceipt = [
        C("KOPI KENANGAN", 1.3, True),
        C("SUNWAY PYRAMID LG2.88"),
        C("3, Jalan PJS 11/15,"),
        C("47500 Bandar Sunway, Selangor"),
        GAP,
        L("Order #A-2231"),
        L("05 Dec 2026 08:47"),
        SEP,
        LR("Kenangan Latte", "13.90"),
        LR("Avocado Coffee", "15.90"),
        LR("Croissant", "8.50"),
        SEP,
        LR("Subtotal", "38.30"),
        LR("Discount (member)", "-3.83"),
        LR("SST 6%", "2.07"),
        LR("Rounding", "0.01"),
        LR("Total", "36.55", 1.1, True),
        LR("Paid - TNG eWallet", "36.55"),
    ]
    files.append(text_pdf("f04_thermal_ereceipt_textpdf.pdf", [ereceipt], pagesize="roll"))
    truth(
        files[-1],
        "KOPI KENANGAN",
        "SUNWAY PYRAMID LG2.88 3, Jalan PJS 11/15, 47500 Bandar Sunway, Selangor",
        "2026-12-05",
        36.55,
        ["my", "text-pdf", "roll", "discount", "rounding"],
        note="address could include the mall line; judged lenient",
    )
    # US invoice text PDF with "Dec 5, 2026" and $1,234.56
    us_inv = invoice_rows(
        seller=["PACIFIC COAST PLUMBING INC"],
        seller_addr=["7788 Ocean View Blvd", "San Diego, CA 92109"],
        meta=[("Invoice #", "10452"), ("Invoice Date", "Dec 5, 2026"), ("Due Date", "Jan 4, 2027")],
        lines_=[
            ("Water heater 50 gal", 1, 899.00),
            ("Labor (hours)", 3, 95.00),
            ("Permit fee", 1, 50.56),
        ],
        summary=[
            ("Subtotal", "$1,234.56", False),
            ("Sales Tax 7.75%", "$95.68", False),
            ("AMOUNT DUE", "$1,330.24", True),
        ],
    )
    files.append(text_pdf("f05_us_invoice_textpdf.pdf", [us_inv]))
    truth(
        files[-1],
        "PACIFIC COAST PLUMBING INC",
        "7788 Ocean View Blvd San Diego, CA 92109",
        "2026-12-05",
        1330.24,
        ["us", "text-pdf", "a4", "thousands", "due-date", "label:AMOUNT DUE"],
    )
    img = render(us_inv, "a4")
    files.append(
        save(degrade(img, scale=0.5, rotate=-1.2), "f06_us_invoice_100dpi.jpg", quality=40)
    )
    truth(
        files[-1],
        "PACIFIC COAST PLUMBING INC",
        "7788 Ocean View Blvd San Diego, CA 92109",
        "2026-12-05",
        1330.24,
        ["us", "a4", "low-res-100dpi", "rotated", "jpeg"],
    )
    # invoice with partial payment: total vs balance due
    part = invoice_rows(
        seller=["PACIFIC COAST PLUMBING INC"],
        seller_addr=["7788 Ocean View Blvd", "San Diego, CA 92109"],
        meta=[("Invoice #", "10453"), ("Date", "12/05/2026"), ("Terms", "Net 30")],
        lines_=[
            ("Water heater 50 gal", 1, 899.00),
            ("Labor (hours)", 3, 95.00),
            ("Permit fee", 1, 50.56),
        ],
        summary=[
            ("Subtotal", "$1,234.56", False),
            ("Sales Tax 7.75%", "$95.68", False),
            ("Total", "$1,330.24", True),
            ("Deposit received", "-$500.00", False),
            ("BALANCE DUE", "$830.24", True),
        ],
    )
    files.append(text_pdf("f07_us_invoice_deposit_textpdf.pdf", [part]))
    truth(
        files[-1],
        "PACIFIC COAST PLUMBING INC",
        "7788 Ocean View Blvd San Diego, CA 92109",
        "2026-12-05",
        1330.24,
        ["us", "text-pdf", "deposit", "balance-due<total"],
        note="total of the invoice is 1330.24; 830.24 is what remains due (arguable)",
    )

    # ---------------- G. more layouts / labels -----------------------------------------
    # Logo-big name with tagline, Malaysian cafe, wide 58mm narrow printer
    rows = [
        ("big", "ZUS", 3.0, SANS_B),
        C("COFFEE", 1.0, True),
        C("ZUS COFFEE SDN BHD (1234567-A)"),
        C("G-12, JALAN KIARA 3, MONT KIARA"),
        C("50480 KUALA LUMPUR"),
        GAP,
        L("05/12/2026 09:12"),
        L("Order: 0042"),
        SEP,
        LR("Spanish Latte", "10.90"),
        LR("CEO Latte", "11.90"),
        SEP,
        LR("Total", "22.80", 1.1, True),
        LR("Card", "22.80"),
        C("Thank you"),
    ]
    img = render(rows, "thermal", width=384, base=18)
    files.append(save(img, "g00_my_logo_58mm.png"))
    truth(
        files[-1],
        "ZUS COFFEE SDN BHD",
        "G-12, JALAN KIARA 3, MONT KIARA 50480 KUALA LUMPUR",
        "2026-12-05",
        22.80,
        ["my", "logo-name", "58mm-narrow"],
        note="name could be ZUS COFFEE; either judged right",
    )
    # total printed only once, tax line larger than some items, "TOTAL SAVINGS" after total
    rows = (
        [
            C("VALUE PLUS MART", 1.3, True),
            C("12 Orchard Road"),
            C("Springfield, IL 62704"),
            GAP,
            LR("12/05/2026", "18:20"),
            SEP,
        ]
        + items_rows(US_RETAIL, cur="$")
        + [
            SEP,
            LR("SUBTOTAL", "$31.76"),
            LR("TAX", "$2.78"),
            LR("TOTAL", "$34.54", 1.1, True),
            LR("CASH TEND", "$50.00"),
            LR("CHANGE DUE", "$15.46"),
            GAP,
            LR("TOTAL SAVINGS", "$41.20"),
            LR("YOU SAVED", "$41.20"),
            LR("REWARDS BALANCE", "$120.00"),
        ]
    )
    img = render(rows)
    files.append(save(img, "g01_us_savings_after_total.png"))
    truth(
        files[-1],
        "VALUE PLUS MART",
        "12 Orchard Road Springfield, IL 62704",
        "2026-12-05",
        34.54,
        ["us", "savings-larger-than-total", "rewards-balance"],
    )
    # Hotel folio with BALANCE label (amount due) and dates of stay
    rows = invoice_rows(
        seller=["GRAND HARBOUR HOTEL"],
        seller_addr=["1 Harbour Front Avenue", "Penang 10300"],
        meta=[
            ("Folio No:", "88231"),
            ("Arrival:", "03/12/2026"),
            ("Departure:", "05/12/2026"),
            ("Printed:", "05/12/2026 11:02"),
        ],
        lines_=[
            ("Room charge 03/12", 1, 320.00),
            ("Room charge 04/12", 1, 320.00),
            ("Minibar", 1, 45.50),
        ],
        summary=[
            ("Total charges", "685.50", False),
            ("Tourism tax", "20.00", False),
            ("GRAND TOTAL", "705.50", True),
            ("Deposit", "-200.00", False),
            ("Payment VISA", "-505.50", False),
            ("BALANCE", "0.00", True),
        ],
    )
    img = render(rows, "a4")
    files.append(save(img, "g02_hotel_folio.png"))
    truth(
        files[-1],
        "GRAND HARBOUR HOTEL",
        "1 Harbour Front Avenue Penang 10300",
        "2026-12-05",
        705.50,
        ["a4", "hotel", "several-dates", "balance-zero"],
    )
    # JPY receipt: no decimals
    rows = [
        C("FAMILY STORE SHIBUYA", 1.2, True),
        C("2-1 Dogenzaka, Shibuya-ku"),
        C("Tokyo 150-0043"),
        GAP,
        L("2026/12/05 (Sat) 13:05"),
        SEP,
        LR("Onigiri Tuna", "¥160"),
        LR("Green Tea 500ml", "¥150"),
        LR("Bento Karaage", "¥598"),
        SEP,
        LR("TOTAL", "¥908", 1.1, True),
        LR("CASH", "¥1,000"),
        LR("CHANGE", "¥92"),
    ]
    files.append(save(render(rows), "g03_jp_yen_no_decimals.png"))
    truth(
        files[-1],
        "FAMILY STORE SHIBUYA",
        "2-1 Dogenzaka, Shibuya-ku Tokyo 150-0043",
        "2026-12-05",
        908.0,
        ["jp", "yen", "no-decimals", "date:ymd-slash"],
    )
    # Restaurant with "Sat 05 Dec 2026" and Malaysian SST+service, total label "TOTAL (INCL. SST)"
    files.append(
        my_receipt(
            "g04_my_service_sst_incl",
            name_lines=["RESTORAN SRI MELAYU"],
            reg="",
            addr_lines=["NO 2, JALAN TUN RAZAK,", "50400 KUALA LUMPUR"],
            date_str="Sat 05 Dec 2026",
            date_iso="2026-12-05",
            total_label="TOTAL (INCL. SST)",
            items=MY_ITEMS2,
            service=True,
            tax_rate=0.06,
            cash=0,
            tags=["my", "service-charge", "date:Dow-d-Mon-y"],
        )
    )
    # Card receipt with only "AMOUNT" (terminal slip)
    rows = [
        C("PETRON BANGSAR", 1.2, True),
        C("JALAN MARU, BANGSAR"),
        C("59000 KUALA LUMPUR"),
        GAP,
        L("MID: 000001234567  TID: 88120045"),
        L("DATE: 05 DEC 26   TIME: 18:44"),
        L("BATCH: 000123 INV: 000456"),
        C("SALE", 1.2, True),
        L("VISA  ************4821"),
        L("APPR CODE: 813302"),
        SEP,
        LR("AMOUNT", "RM 80.00", 1.2, True),
        SEP,
        C("NO SIGNATURE REQUIRED"),
        C("CUSTOMER COPY"),
    ]
    files.append(save(render(rows, width=480, base=20), "g05_card_slip_amount.png"))
    truth(
        files[-1],
        "PETRON BANGSAR",
        "JALAN MARU, BANGSAR 59000 KUALA LUMPUR",
        "2026-12-05",
        80.00,
        ["my", "card-slip", "label:AMOUNT", "date:dd-MON-yy"],
    )
    # Rotated & noisy & low-res US receipt
    files.append(
        us_receipt(
            "g06_us_lowres_rot",
            name_rows=qm,
            name="QUICKMART #1043",
            addr_lines=qm_addr,
            date_str="12/05/26",
            date_iso="2026-12-05",
            items=US_RETAIL,
            tax_rate=0.04,
            tender="CASH",
            time_str="09:15",
            server=False,
            deg={"scale": 0.55, "rotate": -2.0, "noise": 0.005},
            ext="jpg",
            quality=50,
            tags=["us", "low-res", "rotated", "noise", "jpeg"],
        )
    )
    # Very high-res A4 (600 dpi equivalent)
    img = render(invoice_rows(**inv_kwargs), "a4")
    files.append(save(degrade(img, scale=3.0), "g07_a4_600dpi.png"))
    truth(files[-1], inv_name, inv_addr, "2026-12-05", inv_tot, ["a4", "high-res-600dpi"])
    # Receipt whose total line is followed by a larger CASH and "BAL" with no change
    files.append(
        my_receipt(
            "g08_my_nett_only_cash100",
            name_lines=["KEDAI BUKU ILMU"],
            reg="(001234567-P)",
            addr_lines=["NO 7, JALAN PASAR,", "30000 IPOH, PERAK"],
            date_str="05/12/2026",
            date_iso="2026-12-05",
            total_label="NETT",
            items=MY_ITEMS,
            tax_rate=0.0,
            rounding=False,
            cash=100.0,
            tags=["my", "label:NETT", "cash-change"],
        )
    )
    # Refund Malaysian with trailing minus and JUMLAH
    rows = (
        [C("KEDAI RUNCIT AH SENG SDN BHD", 1.15, True), C(MY_REG)]
        + [C(a) for a in MY_ADDR]
        + [
            C("CREDIT NOTE / REFUND", 1.0, True),
            GAP,
            L("DATE: 05/12/2026  TIME: 15:10"),
            L("REF INV: CS88812345"),
            SEP,
            LR("MILO 3IN1 18S", "15.90-"),
            LR("DUTCH LADY UHT 1L", "6.49-"),
            SEP,
            LR("SUB TOTAL", "22.39-"),
            LR("SST 6%", "1.34-"),
            LR("JUMLAH", "23.73-", 1.1, True),
            LR("CASH REFUND", "23.73-"),
        ]
    )
    files.append(save(render(rows), "g09_my_refund_jumlah_trailing_minus.png"))
    truth(
        files[-1],
        "KEDAI RUNCIT AH SENG SDN BHD",
        " ".join(MY_ADDR),
        "2026-12-05",
        -23.73,
        ["my", "refund", "trailing-minus", "label:JUMLAH"],
    )
    # European restaurant: total with tip ("Trinkgeld") handwritten-ish printed line
    rows = [
        C("TRATTORIA DA MARIO", 1.3, True),
        C("Via Roma 21"),
        C("20121 Milano MI"),
        C("P.IVA 01234567890"),
        GAP,
        L("05-12-2026 21:40   Tavolo 4"),
        SEP,
        LR("Coperto x2", "5,00"),
        LR("Risotto milanese", "16,00"),
        LR("Ossobuco", "24,00"),
        LR("Tiramisù", "7,50"),
        LR("Acqua 1L", "3,50"),
        SEP,
        LR("TOTALE EURO", "56,00", 1.2, True),
        LR("CONTANTI", "60,00"),
        LR("RESTO", "4,00"),
        GAP,
        LR("di cui IVA 10%", "5,09"),
    ]
    files.append(save(render(rows), "g10_it_totale_euro.png"))
    truth(
        files[-1],
        "TRATTORIA DA MARIO",
        "Via Roma 21 20121 Milano MI",
        "2026-12-05",
        56.00,
        ["it", "comma-decimal", "label:TOTALE", "date:dmy-dash"],
    )
    # Canada: $ and 2026-12-05 ISO, GST+PST
    rows = [
        C("MAPLE LEAF HARDWARE", 1.2, True),
        C("455 Granville St"),
        C("Vancouver BC V6C 1T2"),
        GAP,
        LR("2026-12-05", "11:30"),
        SEP,
        LR("Drill bits set", "$24.99"),
        LR("Wood screws 200", "$8.49"),
        LR("Sandpaper pack", "$6.99"),
        SEP,
        LR("SUBTOTAL", "$40.47"),
        LR("GST 5%", "$2.02"),
        LR("PST 7%", "$2.83"),
        LR("TOTAL", "$45.32", 1.1, True),
        LR("DEBIT", "$45.32"),
    ]
    files.append(save(render(rows), "g11_ca_gst_pst.png"))
    truth(
        files[-1],
        "MAPLE LEAF HARDWARE",
        "455 Granville St Vancouver BC V6C 1T2",
        "2026-12-05",
        45.32,
        ["ca", "dollar", "date:iso", "two-taxes"],
    )
    # Canada with $ and dd/mm/yyyy (common in CA too), unambiguous? no: 05/12
    rows[4] = LR("05/12/2026", "11:30")
    files.append(save(render(rows), "g12_ca_dollar_ddmm.png"))
    truth(
        files[-1],
        "MAPLE LEAF HARDWARE",
        "455 Granville St Vancouver BC V6C 1T2",
        "2026-12-05",
        45.32,
        ["ca", "dollar", "date:dmy", "ambiguous-day-month"],
    )
    # Australian supermarket with "Dec 5" written and TOTAL incl GST and EFTPOS, thermal fade low-res
    files.append(
        us_receipt(
            "g13_au_lowres_fade",
            name_rows=cafe,
            name="BEAN THERE CAFE",
            addr_lines=au_addr,
            date_str="05/12/2026",
            date_iso="2026-12-05",
            items=AU_ITEMS,
            tax_rate=0.10,
            total_label="TOTAL INC GST",
            tender="VISA",
            time_str="10:22",
            server=False,
            header_extra=[C("ABN 12 345 678 901")],
            deg={"scale": 0.6, "thermal_fade": True},
            ext="jpg",
            tags=["au", "dollar", "date:dmy", "low-res", "faded"],
        )
    )
    # US receipt with card expiry and "return by" date
    rows = (
        [C("QUICKMART #1043", 1.3, True)]
        + [C(a) for a in qm_addr]
        + [GAP, L("12/05/2026 09:15   TRN 4412"), SEP]
        + items_rows(US_RETAIL[:3])
        + [
            SEP,
            LR("SUBTOTAL", "13.27"),
            LR("TAX", "0.53"),
            LR("TOTAL", "13.80", 1.1, True),
            LR("VISA", "13.80"),
            L("CARD EXP 11/28"),
            GAP,
            L("RETURN BY 01/04/2027 WITH RECEIPT"),
        ]
    )
    files.append(save(render(rows), "g14_us_return_by_date.png"))
    truth(
        files[-1],
        "QUICKMART #1043",
        " ".join(qm_addr),
        "2026-12-05",
        13.80,
        ["us", "no-currency-symbol", "rival-date", "date:mdy"],
    )
    # Two-line name where 2nd line is a branch
    rows = (
        [
            C("MYDIN", 1.6, True),
            C("MOHAMED HOLDINGS SDN BHD"),
            C("(178278-M)"),
            C("LOT 1, JALAN BUKIT TINGGI,"),
            C("41200 KLANG, SELANGOR"),
            C("GST ID: 000123459876"),
            C("TAX INVOICE", 1.0, True),
            GAP,
            L("05/12/2026  16:02  POS 12  CSH 0873"),
            SEP,
        ]
        + items_rows(MY_ITEMS)
        + [
            SEP,
            LR("TOTAL INCL GST", "41.83", 1.1, True),
            LR("ROUNDING", "0.02"),
            LR("TOTAL ROUNDED", "41.85", 1.1, True),
            LR("CASH", "50.00"),
            LR("CHANGE", "8.15"),
            GAP,
            LR("GST SUMMARY", "AMT   TAX"),
            LR("SR 6%", "39.46  2.37"),
        ]
    )
    files.append(save(render(rows), "g15_my_brand_plus_legal_name.png"))
    truth(
        files[-1],
        "MOHAMED HOLDINGS SDN BHD",
        "LOT 1, JALAN BUKIT TINGGI, 41200 KLANG, SELANGOR",
        "2026-12-05",
        41.85,
        ["my", "brand-over-legal-name", "rounded-total"],
        note="SROIE convention: the company line; MYDIN alone also acceptable -> judged lenient",
    )
    return files


# ================================================================= batch 2: targeted probes
def simple(
    fid,
    name,
    addr,
    rows_mid,
    date_iso,
    total,
    tags,
    note="",
    name_rows=None,
    ext="png",
    layout="thermal",
    deg=None,
    header_extra=(),
    **kw,
):
    rows = (
        list(name_rows or [C(name, 1.3, True)])
        + [C(a) for a in addr]
        + list(header_extra)
        + [GAP]
        + rows_mid
    )
    img = render(rows, layout, **kw)
    img = degrade(img, **(deg or {}))
    fname = save(img, f"{fid}.{ext}")
    truth(fname, name, " ".join(addr), date_iso, total, tags, note)
    return fname


def build2():
    files = []
    qm_addr = ["250 W 34th St", "New York, NY 10001"]
    my_addr = ["NO 12, JALAN SS 2/24,", "47300 PETALING JAYA, SELANGOR"]
    # 1. accounting-style negatives: refund printed in parentheses
    files.append(
        simple(
            "h00_us_refund_parentheses",
            "QUICKMART #1043",
            qm_addr,
            [
                LR("12/05/2026", "09:15"),
                C("*** RETURN ***", 1.0, True),
                SEP,
                LR("ORGANIC BANANAS", "(2.49)"),
                LR("WHOLE MILK 1GAL", "(4.79)"),
                SEP,
                LR("SUBTOTAL", "(7.28)"),
                LR("TAX", "(0.29)"),
                LR("TOTAL", "(7.57)", 1.1, True),
                LR("VISA REFUND", "(7.57)"),
                C("THANK YOU"),
            ],
            "2026-12-05",
            -7.57,
            ["us", "refund", "parentheses-negative"],
            "accounting negatives (x.xx)",
        )
    )
    # 2. refund: negative total, positive refund tender line
    files.append(
        simple(
            "h01_us_refund_positive_tender",
            "QUICKMART #1043",
            qm_addr,
            [
                LR("12/05/2026", "09:15"),
                C("*** REFUND ***", 1.0, True),
                SEP,
                LR("ORGANIC BANANAS", "-2.49"),
                LR("WHOLE MILK 1GAL", "-4.79"),
                SEP,
                LR("SUBTOTAL", "-7.28"),
                LR("TAX", "-0.29"),
                LR("TOTAL", "-7.57", 1.1, True),
                LR("CASH REFUNDED", "7.57"),
                C("THANK YOU"),
            ],
            "2026-12-05",
            -7.57,
            ["us", "refund", "leading-minus", "positive-tender"],
        )
    )
    # 3. refund with CR suffix
    files.append(
        simple(
            "h02_my_refund_CR",
            "KEDAI RUNCIT AH SENG SDN BHD",
            my_addr,
            [
                C("CREDIT NOTE", 1.0, True),
                L("DATE: 05/12/2026 TIME: 15:10"),
                SEP,
                LR("MILO 3IN1 18S", "15.90CR"),
                LR("DUTCH LADY UHT 1L", "6.49CR"),
                SEP,
                LR("TOTAL", "22.39CR", 1.1, True),
                LR("REFUND TO VISA", "22.39CR"),
            ],
            "2026-12-05",
            -22.39,
            ["my", "refund", "CR-suffix"],
        )
    )
    # 4. item words containing label substrings (BOTTLE->TTL, CABINET->NET, ADJUSTABLE->ADJ) in a footer promo
    files.append(
        simple(
            "h03_my_footer_promo_bottle",
            "SYARIKAT HARDWARE BINA JAYA",
            ["NO 8, JALAN PERUSAHAAN 3,", "81200 JOHOR BAHRU, JOHOR"],
            [
                L("DATE: 05/12/2026 TIME: 11:20"),
                SEP,
                LR("PAINT BRUSH 2IN", "4.20"),
                LR("WOOD GLUE 250ML", "8.90"),
                LR("SANDPAPER P120", "2.50"),
                SEP,
                LR("TOTAL", "15.60", 1.1, True),
                LR("CASH", "20.00"),
                LR("CHANGE", "4.40"),
                GAP,
                C("*** PROMOTION ***"),
                LR("FREE WATER BOTTLE WORTH", "RM 25.00"),
                LR("WITH MIN. SPEND", "RM 100.00"),
                LR("CABINET HINGE SET NOW", "RM 49.90"),
            ],
            "2026-12-05",
            15.60,
            ["my", "footer-promo", "label-substring:BOTTLE/CABINET"],
        )
    )
    # 5. TOTAL line carrying the item count
    files.append(
        simple(
            "h04_us_total_items_count",
            "VALUE PLUS MART",
            ["12 Orchard Road", "Springfield, IL 62704"],
            [
                LR("12/05/2026", "18:20"),
                SEP,
                LR("ORGANIC BANANAS", "$2.49"),
                LR("WHOLE MILK 1GAL", "$4.79"),
                LR("EGGS LARGE 12CT", "$5.99"),
                SEP,
                LR("TOTAL (3 ITEMS)", "$13.27", 1.1, True),
                LR("VISA", "$13.27"),
                GAP,
                LR("LOYALTY POINTS EARNED", "13"),
            ],
            "2026-12-05",
            13.27,
            ["us", "label:TOTAL (3 ITEMS)"],
        )
    )
    # 6. Malay month names
    files.append(
        my_receipt(
            "h05_my_malay_month_dis",
            name_lines=["PERNIAGAAN MAJU JAYA"],
            reg="(AS0123456-K)",
            addr_lines=["NO 45, JALAN BESAR,", "35900 TANJUNG MALIM, PERAK"],
            date_str="05 DIS 2026",
            date_iso="2026-12-05",
            total_label="JUMLAH",
            items=MY_ITEMS2,
            tax_rate=0.0,
            cash=0,
            label_date="TARIKH:",
            tags=["my", "date:malay-month"],
            extra_top=[],
            note="Disember",
        )
    )
    # 7. Malay month + a voucher validity date (rival that is not the issue date)
    rows_v = [
        C("PERNIAGAAN MAJU JAYA", 1.15, True),
        C("(AS0123456-K)"),
        C("NO 45, JALAN BESAR,"),
        C("35900 TANJUNG MALIM, PERAK"),
        GAP,
        L("TARIKH: 05 DIS 2026  MASA: 14:32"),
        SEP,
        LR("NASI LEMAK AYAM", "25.80"),
        LR("TEH TARIK", "7.00"),
        SEP,
        LR("JUMLAH", "32.80", 1.1, True),
        LR("TUNAI", "50.00"),
        LR("BAKI", "17.20"),
        GAP,
        C("BAUCAR RM5 SAH SEHINGGA 31/12/2026"),
    ]
    files.append(save(render(rows_v), "h06_my_malay_month_voucher_date.png"))
    truth(
        files[-1],
        "PERNIAGAAN MAJU JAYA",
        "NO 45, JALAN BESAR, 35900 TANJUNG MALIM, PERAK",
        "2026-12-05",
        32.80,
        ["my", "date:malay-month", "rival-date:voucher"],
        "only parseable date is the voucher expiry",
    )
    # 8. Same with English VALID UNTIL
    rows_v[-1] = C("VOUCHER RM5 VALID UNTIL 31/12/2026")
    files.append(save(render(rows_v), "h07_my_malay_month_valid_until.png"))
    truth(
        files[-1],
        "PERNIAGAAN MAJU JAYA",
        "NO 45, JALAN BESAR, 35900 TANJUNG MALIM, PERAK",
        "2026-12-05",
        32.80,
        ["my", "date:malay-month", "rival-date:valid-until"],
        "only parseable date is labelled VALID",
    )
    # 9. German month abbreviation + exchange-until date
    files.append(
        simple(
            "h08_de_month_name_umtausch",
            "ELEKTRO WAGNER GMBH",
            ["Königstraße 40", "70173 Stuttgart"],
            [
                L("Datum: 5. Dez. 2026  14:03"),
                SEP,
                LR("USB-C Dock", "129,90 A"),
                LR("Kabel HDMI 2m", "5,66 A"),
                SEP,
                LR("TOTAL EUR", "135,56", 1.1, True),
                LR("KARTE", "135,56"),
                GAP,
                C("Umtausch bis 04.01.2027 nur mit Bon"),
            ],
            "2026-12-05",
            135.56,
            ["de", "date:German-month", "rival-date:exchange-until"],
        )
    )
    # 10. yy/mm/dd (Japanese/Korean POS)
    files.append(
        simple(
            "h09_jp_yymmdd",
            "CAFE SAKURA",
            ["2-1 Dogenzaka, Shibuya-ku", "Tokyo 150-0043"],
            [
                L("26/12/05 13:05  REG 02"),
                SEP,
                LR("Matcha Latte", "580.00"),
                LR("Cheesecake", "520.00"),
                SEP,
                LR("TOTAL", "1,100.00", 1.1, True),
                LR("CASH", "2,000.00"),
                LR("CHANGE", "900.00"),
            ],
            "2026-12-05",
            1100.00,
            ["jp", "date:yy/mm/dd"],
            "yy/mm/dd as printed by JP/KR POS",
        )
    )
    # 11. compact date 20261205 with time
    files.append(
        simple(
            "h10_compact_date",
            "QUICKMART #1043",
            qm_addr,
            [
                L("20261205 091512 TRN 4412 REG 03"),
                SEP,
                LR("ORGANIC BANANAS", "2.49"),
                LR("WHOLE MILK 1GAL", "4.79"),
                SEP,
                LR("TOTAL", "7.28", 1.1, True),
                LR("VISA", "7.28"),
                L("CARD EXP 11/28"),
                GAP,
                L("RETURN BY 01/04/2027 WITH RECEIPT"),
            ],
            "2026-12-05",
            7.28,
            ["us", "date:compact", "rival-date:return-by"],
        )
    )
    # 12. MY receipt from a POS that prints mm/dd/yyyy with AM/PM (seen in Malaysia)
    files.append(
        my_receipt(
            "h11_my_pos_mmdd",
            name_lines=MY_NAME,
            reg=MY_REG,
            addr_lines=MY_ADDR,
            date_str="12/05/2026 02:32:10 PM",
            date_iso="2026-12-05",
            total_label="TOTAL",
            items=MY_ITEMS,
            cash=0,
            label_date="",
            time_str="",
            tags=["my", "date:mm/dd/yyyy-AMPM"],
            note="POS with US date format in Malaysia",
        )
    )
    # 13. A4 invoice with 'Net amount' (pre-VAT) largest-looking label and TOTAL missing cues
    files.append(
        simple(
            "h12_uk_net_total_vat",
            "BRIGHTSPARK ELECTRICAL LTD",
            ["Unit 4, Riverside Trading Estate", "Leeds LS11 5QP"],
            [
                LR("Invoice Date:", "05/12/2026"),
                SEP,
                LMR("Call-out and labour", "2 x 85.00", "170.00"),
                LMR("Consumer unit RCD", "1 x 80.00", "80.00"),
                SEP,
                LR("Net total", "250.00"),
                LR("VAT 20%", "50.00"),
                LR("Gross total", "300.00", 1.1, True),
            ],
            "2026-12-05",
            300.00,
            ["uk", "a4", "label:Net total/Gross total"],
            layout="a4",
        )
    )
    # 14. tip entered on the terminal: AMOUNT / TIP / TOTAL
    files.append(
        simple(
            "h13_us_terminal_tip",
            "THE BLUE DOOR",
            ["1420 Market Street", "San Francisco, CA 94103"],
            [
                LR("DEC 05, 2026", "20:41"),
                L("VISA CREDIT ****4821"),
                C("SALE", 1.1, True),
                SEP,
                LR("AMOUNT", "$95.81"),
                LR("TIP", "$19.16"),
                LR("TOTAL", "$114.97", 1.2, True),
                SEP,
                C("APPROVED  AUTH 08213B"),
                C("CUSTOMER COPY"),
            ],
            "2026-12-05",
            114.97,
            ["us", "card-slip", "tip"],
        )
    )
    # 15. discount larger than tax, total lower than subtotal, 'You saved' bigger than total
    files.append(
        simple(
            "h14_my_member_discount_large",
            "KEDAI RUNCIT AH SENG SDN BHD",
            my_addr,
            [
                L("DATE: 05/12/2026  TIME: 10:05"),
                SEP,
                LR("BERAS SUPER 10KG", "45.90"),
                LR("MINYAK MASAK 5KG", "32.50"),
                SEP,
                LR("SUB TOTAL", "78.40"),
                LR("MEMBER DISC 50%", "-39.20"),
                LR("TOTAL", "39.20", 1.1, True),
                LR("CASH", "50.00"),
                LR("CHANGE", "10.80"),
                GAP,
                LR("YOU SAVED", "39.20"),
            ],
            "2026-12-05",
            39.20,
            ["my", "discount", "saved==total"],
        )
    )
    # 16. $ receipt, day-first unambiguous date and a rival ambiguous printed date
    files.append(
        simple(
            "h15_au_dollar_two_dates",
            "BEAN THERE CAFE",
            ["45 Smith St", "Fitzroy VIC 3065"],
            [
                L("Date: 05/12/2026 10:22"),
                L("Order for pickup: 06/12/2026"),
                SEP,
                LR("Flat White", "$10.40"),
                LR("Banana Bread", "$6.80"),
                SEP,
                LR("TOTAL INC GST", "$17.20", 1.1, True),
                LR("EFTPOS", "$17.20"),
            ],
            "2026-12-05",
            17.20,
            ["au", "dollar", "date:dmy", "second-date"],
        )
    )
    # 17. pharmacy: batch expiry labelled in Malay (TARIKH LUPUT = expiry date) beside items
    files.append(
        simple(
            "h16_my_pharmacy_tarikh_luput",
            "FARMASI SIHAT SDN BHD",
            ["NO 3, JALAN SULTAN,", "46200 PETALING JAYA, SELANGOR"],
            [
                L("05/12/2026 14:32  RESIT: 88123"),
                SEP,
                LR("PANADOL ACTIFAST 20S", "12.90"),
                L("  TARIKH LUPUT: 30/06/2027"),
                LR("VITAMIN C 1000MG 30S", "39.90"),
                L("  TARIKH LUPUT: 31/03/2027"),
                SEP,
                LR("TOTAL", "52.80", 1.1, True),
                LR("CASH", "60.00"),
                LR("CHANGE", "7.20"),
            ],
            "2026-12-05",
            52.80,
            ["my", "rival-date:expiry-malay"],
            header_extra=[C("(765432-D)")],
        )
    )
    return files


def write(directory: Path) -> dict[str, dict]:
    """Render every receipt into ``directory``; the ground truth by file name."""
    global OUT, R
    OUT = directory
    OUT.mkdir(parents=True, exist_ok=True)
    R = random.Random(20261205)
    TRUTH.clear()
    build()
    build2()
    (OUT / "truth.json").write_text(json.dumps(TRUTH, indent=1, ensure_ascii=False))
    return dict(TRUTH)


if __name__ == "__main__":
    import sys

    truth = write(Path(sys.argv[1]))
    print(len(truth), "receipts written to", sys.argv[1])
