"""Finding the amount paid: labelled totals corroborated by receipt arithmetic."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from itertools import combinations, product

from .fields import AmountRef, Candidate, label_and_amount, ocr_factor, squash
from .header import WORD, fix_known_word
from .layout import Line, split_segments
from .ranker import DISAGREEMENT_CAP
from .values import currencies_named, parse_amounts, reading_whole_amounts

# Label classes, checked in order on the squashed (letters-only, upper-case) label.
_SUBTOTAL = re.compile(r"SUBT(?!U)|SUBJUMLAH|EXCL|BEFORE|NETTOFGST|AMOUNTEXGST|EXGST|TOTALEX")
_ROUNDING = re.compile(r"(?<!G)ROUND|ADJ(?!AM|AR|UMBO)|PELARASAN")
_ROUNDED_TOTAL = re.compile(r"ROUNDE?D+TOTAL|TOTALROUNDED|AFTERROUND|TOTALAFTER")
# Labels are matched squashed (OCR runs words together), so a label word can hide inside
# an item's words: BAKING is no BAKI, CASHEW no CASH, CHICKEN TENDERS no TENDER, CARDIGAN
# no CARD, BOTTLE no TTL, GROSS and ASSTD no SST, TAXI no TAX, GROUND BEEF no ROUND, BREAD
# JAM no ADJ, SUB TUNA no SUBT, CREAM TEA and HAM TOAST no AMT. Money paid back (a
# refund's "REFUND AMOUNT 7.57") is change, not a total.
_CHANGE = re.compile(r"CHANGE|CHANCE|BAKI(?!NG)|BALANCE(?!DUE)|KEMBALI|(?<!NON)REFUND(?!ABLE)")
_TENDER = re.compile(
    r"CASH(?!EW)|TENDER(?!S|LOIN)|PAID|PAYMENT|VISA|MASTER|CARD(?!IGAN|BOARD|AMOM)|CREDIT|DEBIT|EFTPOS|TUNAI|AMEX|"
    r"BOOST|GRAB|TNG|VOUCHER|BAUCAR"
)
_NOT_MONEY = re.compile(r"QTY|QUANTITY|ITEM|UNIT|PCS|DISC|SAVING|SAVED|POINT|WEIGHT|KG")
_TAX = re.compile(r"GST|(?<!GRO)(?<!A)SST(?!D)|TAX(?!I)|VAT|CUKAI")
# "Inclusive" with its I read as l ("Total Sales (lnclusive of GST)") is no tax line.
_INCL = re.compile(r"[IL]NCL|INC")
_STRONG_TOTAL = re.compile(
    r"GRANDTOTAL|NETTT?OTAL|NETTTL|TOTALAMOUNT|TOTALAMT|AMOUNTDUE|TOTALDUE|TOTALPAYABLE|"
    r"AMOUNTPAYABLE|TOTALSALES|NETAMOUNT|NETTAMOUNT|JUMLAH|TOTALRM|TOTALMYR|TOTALINCL|"
    r"BALANCEDUE|TOTALTOPAY|TOTALBILL|TOBEPAID|AMOUNTTOPAY|^PAYABLE|"
    # The amount to pay in German and Dutch, on a till's receipt as on an invoice: a Swiss
    # "Zu zahlen CHF 11.50" after "Total CHF 11.52" and "Rundung -0.02" was read as no
    # total at all, and 11.52 went straight through.
    r"ZUZAHLEN|TEBETALEN"
)
# NET is a total at the label's start or end or before TOTAL/AMOUNT ("NETT", "HARGA
# NETT", "NET AMOUNT"), not inside INTERNET, CABINET or NETBALL.
_TOTAL_WORD = re.compile(r"T[O0]TA?L|TTL(?!E)")
_TOTAL = re.compile(
    _TOTAL_WORD.pattern + r"|AMOUNT|^AMT|(?:NETT?|TTL|SALES?)AMT|AMT$|^NETT?|NETT$|"
    r"NETT?(?=T[O0]TA?L|AMOUNT|AMT)"
)
# An invoice's own labels in German, French, Dutch and Spanish, and what "Balance"
# means on one, checked before the receipt's (invoices only: a receipt's "BALANCE" is the
# change). "Total HT", "Nettobetrag", "Netto" and "Base imponible" are before tax;
# "Gesamtbetrag", "Total TTC", "Te betalen", "Total factura" the amount due; "MwSt",
# "TVA", "BTW" and "IVA" the tax. "Total credit" is a credit note's total, not a payment
# by credit. An English "Net total" or "Nett" is a total, before tax or after it as the
# invoice's arithmetic says (_before_tax_as_subtotals): the amount due in Malaysia.
_INVOICE_SUBTOTAL = re.compile(
    r"(?:TOTAL|MONTANT|SOUSTOTAL)HT$|HORSTAXES?|ZWISCHENSUMME|NETTOBETRAG|NETTOSUMME|"
    r"SUMMENETTO|BASEIMPONIBLE|EXCL|EXKL|^NETTO(?:AMOUNT|TOTAL|VALUE)?$"
)
_INVOICE_TOTAL = re.compile(
    r"GESAMTBETRAG|RECHNUNGSBETRAG|ENDBETRAG|ZUZAHLEN|GESAMTSUMME|BRUTTOBETRAG|SUMMEBRUTTO|"
    r"GUTSCHRIFTSBETRAG|TTC$|NETAPAYER|RESTEAPAYER|TOTALAPAYER|MONTANTDELAVOIR|^TOTAAL|"
    r"TEBETALEN|TECREDITEREN|TOTALAPAGAR|IMPORTETOTAL|TOTALFACTURA|IMPORTEAABONAR|"
    r"TOTALCREDIT|CREDITTOTAL|^BALANCE(?:DUE)?(?:USD|EUR|GBP)?$|^GESAMT$|^SUMME$"
)
_INVOICE_TAX = re.compile(
    r"^(?:ZZGL|ZUZGL|DARIN|ENTHALTENE?)?(?:MWST|UST)|MEHRWERTSTEUER|UMSATZSTEUER|^TVA|^BTW|"
    r"^IVA|^IGIC"
)
# Label words that OCR misreads by one letter ("Canh Paid", "Chango", "Totai"): read as
# the word one slip away. The first letter must be right, so that a line item such as
# "CAR WASH" is not taken for "CASH"; CHARGE and PAIR are listed to stay as they are
# ("Service Charge" is no change, "1 PAIR" no payment).
LABEL_WORDS = (
    "TOTAL", "SUBTOTAL", "CASH", "PAID", "CHANGE", "ROUNDING", "ROUNDED", "AMOUNT",
    "PAYABLE", "TENDER", "TENDERED", "BALANCE", "PAYMENT", "GRAND", "ADJUSTMENT",
    "CHARGE", "PAIR",
)  # fmt: skip


MAX_SUMMED_TOTALS = 8  # at most 247 subsets of the totals above
ROUNDED_WEIGHT = 3.2  # "Rounded total" names the amount paid after cash rounding
PAYABLE_WEIGHT = 3.0  # a strong total label: "Total Payable", "Amount Due", "Grand Total"


@dataclass
class Ledger:
    """Amounts on a receipt sorted by what their labels say they are."""

    totals: list[tuple[float, AmountRef, str]] = field(default_factory=list)
    printed: set[Decimal] = field(default_factory=set)
    subtotals: list[AmountRef] = field(default_factory=list)
    taxes: list[AmountRef] = field(default_factory=list)
    roundings: list[AmountRef] = field(default_factory=list)
    tenders: list[AmountRef] = field(default_factory=list)
    changes: list[AmountRef] = field(default_factory=list)
    others: list[AmountRef] = field(default_factory=list)
    # Totals that are the sum of other totals above them, with those parts (_sums_of_totals)
    total_sums: list[tuple[AmountRef, tuple[AmountRef, ...]]] = field(default_factory=list)


def classify(label: str, *, invoice: bool = False) -> tuple[str, float]:
    """(kind, weight) of a label; weight ranks how strongly a total label claims the total.
    ``invoice`` reads an invoice's labels too (``_INVOICE_TOTAL``)."""
    if reading_whole_amounts():
        label = in_english(label)
    label = WORD.sub(
        lambda m: fix_known_word(m.group(0), LABEL_WORDS, shortest=4, keep_first=True), label
    )
    s = squash(label)
    if invoice:
        if _INVOICE_SUBTOTAL.search(s):
            return "subtotal", 0.0
        if _INVOICE_TOTAL.search(s):
            return "total", PAYABLE_WEIGHT
        if _INVOICE_TAX.search(s):
            return "tax", 0.0
    if _ROUNDED_TOTAL.search(s):
        return "total", ROUNDED_WEIGHT
    if _SUBTOTAL.search(s):
        return "subtotal", 0.0
    if _ROUNDING.search(s):
        return "rounding", 0.0
    if _CHANGE.search(s):
        return "change", 0.0
    if _TAX.search(s) and not _INCL.search(s):
        return "tax", 0.0
    if _NOT_MONEY.search(s) and not _STRONG_TOTAL.search(s):
        return "other", 0.0
    if _STRONG_TOTAL.search(s):
        return "total", PAYABLE_WEIGHT
    if _TENDER.search(s):
        return "tender", 0.0
    if _TOTAL_WORD.search(s):
        return "total", 2.5
    if _TOTAL.search(s):
        return "total", 1.5
    return "other", 0.0


# The labels of receipts in the currencies printed in whole units (values.
# WHOLE_UNIT_CURRENCIES), as the English words classify reads: Japanese, Korean and
# Vietnamese labels squash to nothing or to no word ("Tổng cộng" to TNGCNG); Indonesian
# ones are mostly read already (TOTAL, TUNAI, KEMBALI). Read on such receipts only: a
# Malaysian receipt's Chinese is no Japanese, and SROIE was read without them.
_LABELS_ABROAD = [
    (r"税込", " INCL "),
    (r"税抜", " EXCL "),
    (r"小計|소계|tạm\s*tính", " SUBTOTAL "),
    (
        r"総?合計|お会計|ご請求額|총\s*합계|합계|총액|결제\s*금액|받을\s*금액|"
        r"tổng\s*(?:cộng|tiền|thanh\s*toán)|khách\s*phải\s*trả|cần\s*thanh\s*toán",
        " TOTAL ",
    ),
    (r"お?預り金?|お?預かり|받은\s*금액|현금|(?:tiền\s*)?khách\s*đưa|tiền\s*mặt", " CASH "),
    (r"카드", " CARD "),
    (r"お?釣り?銭?|おつり|거스름돈|잔돈|tiền\s*(?:thừa|thối|trả\s*lại)|trả\s*lại", " CHANGE "),
    (r"(?:内|外)?消費税等?|부가\s*가치\s*세|부가세|세액|thuế|\bPPN\b", " TAX "),
    (r"値引|割引|할인|giảm\s*giá|chiết\s*khấu|\bDISKON\b|\bPOTONGAN\b", " DISC "),
]
_LABELS_ABROAD_RE = [(re.compile(pattern, re.I), word) for pattern, word in _LABELS_ABROAD]


def in_english(label: str) -> str:
    """``label`` with the words of _LABELS_ABROAD as the English label words they are."""
    for pattern, word in _LABELS_ABROAD_RE:
        label = pattern.sub(word, label)
    return label


def build_ledger(lines: list[Line], *, invoice: bool = False) -> Ledger:
    ledger = Ledger()
    unread: list[int] = []
    for index in range(len(lines)):
        label, ref = label_and_amount(lines, index)
        if ref is None:
            unread.append(index)
            continue
        ledger.printed.add(ref.value)
        if invoice:
            label = _without_page_number(label, lines[index])
        kind, weight = classify(label, invoice=invoice)
        if kind == "total":
            on_line = [a.value for a in parse_amounts(ref.line.text)]
            if max(on_line) > ref.value:
                # A total is never smaller than another amount on its own line; this is
                # a summary row (amount, tax), so its last number is not the total.
                weight = min(weight, 1.0)
            ledger.totals.append((weight, ref, label.strip()))
        else:
            getattr(ledger, _BUCKETS[kind]).append(ref)
    for index in unread:
        _add_lost_point(ledger, lines, index, invoice=invoice)
    ledger.total_sums = _sums_of_totals(ledger.totals)
    return ledger


# A page number standing alone: "Page 2", "Page: 2", "PAGE 2 of 3", "Pg. 2/3", "p. 2".
_PAGE_NUMBER = re.compile(r"^\s*(?:PAGE|PG\.?|P\.)\s*:?\s*\d+(?:\s*(?:OF|/)\s*\d+)?\s*$", re.I)


# A page number inside a label: "Page 2 Total due", "Total due (page 2)", "Pg. 2/3".
_PAGE_NUMBER_IN = re.compile(r"\b(?:PAGE|PG\.?|P\.)\s*:?\s*\d+(?:\s*(?:OF|/)\s*\d+)?\b:?", re.I)


def _without_page_number(label: str, line: Line) -> str:
    """``label`` less a page number printed apart from it at the start of its row (a
    footer's "Page 2" beside "Total due"): read into the label ("Page 2 Total due"), it
    made an invoice's amount due a running total (_INVOICE_CARRIED's PAGE), so a page
    total on page 1 was read instead, and a rival total beside it went unnamed. A page
    number set close to a total's word ("Page 2 total") is its label: a page total,
    unless the label asks for the amount or names the grand total (_DUE_OR_GRAND): no
    page has an amount due of its own, and OCR runs a footer into the label beside it."""
    segments = split_segments(line)
    first = segments[0].text
    if len(segments) > 1 and _PAGE_NUMBER.match(first) and label.startswith(first):
        return label[len(first) :]
    if _DUE_OR_GRAND.search(label):
        return _PAGE_NUMBER_IN.sub(" ", label)
    return label


# A total whose decimal point OCR lost ("TOTAL RM 7740") or read as a dash ("TOTAL 7-40").
_LOST_POINT = re.compile(r"(?<![\d.,-])(\d{1,4})[-,]?(\d{2})\s*$")


def _add_lost_point(ledger: Ledger, lines: list[Line], index: int, *, invoice: bool) -> None:
    """Read a total-labelled number without its decimal point as cents, but only when
    the amount is printed elsewhere on the receipt (the cash, the rounded sum), so a
    quantity or a code after the label cannot become a total of its own."""
    line = lines[index]
    if reading_whole_amounts():
        return  # a currency printed in whole units has no decimal point to lose
    match = _LOST_POINT.search(line.text)
    if match is None or "%" in line.text:
        return
    kind, weight = classify(line.text[: match.start()], invoice=invoice)
    value = Decimal(f"{int(match.group(1))}.{match.group(2)}")
    if kind == "total" and value in ledger.printed:
        ref = AmountRef(value, index, line, match.start(), match.end())
        ledger.totals.append((weight - 1.0, ref, line.text[: match.start()].strip()))


def amount_paid_back(lines: list[Line], *, invoice: bool = False) -> AmountRef | None:
    """The amount a credit note or a refund pays back ("Total Payable: -6.42"), else None.

    It is the last total-labelled amount, negative, under a label that names the amount
    payable (a voucher's, a return's or a rebate's "Total ... -5.00" does not) or on a
    receipt whose totals are all negative, where nothing positive was tendered (a sale's
    cash or card).

    On an invoice (``invoice``) it is the last of the document's own totals
    (own_totals), the last payable one if there is one: a credit note quoting the
    invoice it credits after its own total ("Invoice INV-20417 total £1,500.00") was
    read as that invoice's +1,500.00."""
    ledger = build_ledger(lines, invoice=invoice)
    if invoice:
        _before_tax_as_subtotals(ledger)  # a credit note's "Net total" before its tax
    totals = own_totals(ledger) if invoice else ledger.totals
    if invoice:
        totals = [t for t in totals if t[0] >= PAYABLE_WEIGHT] or totals
    if not totals or any(tender.value > 0 for tender in ledger.tenders):
        return None
    weight, last, _ = max(totals, key=lambda t: t[1].line_index)
    # A plain "TOTAL" names the amount payable too when no total on the receipt is positive.
    refund = all(ref.value <= 0 for _, ref, _ in totals)
    return last if last.value < 0 and (weight >= PAYABLE_WEIGHT or refund) else None


_BUCKETS = {
    "subtotal": "subtotals",
    "tax": "taxes",
    "rounding": "roundings",
    "tender": "tenders",
    "change": "changes",
    "other": "others",
}


@dataclass
class _Support:
    weight: float = 0.0
    cues: set[str] = field(default_factory=set)
    refs: list[AmountRef] = field(default_factory=list)

    def add(self, cue: str, weight: float, *refs: AmountRef) -> None:
        self.cues.add(cue)
        self.weight = max(self.weight, weight)
        self.refs.extend(refs)


def find_total(
    lines: list[Line], item_sum: Decimal | None = None, *, invoice: bool = False
) -> Candidate | None:
    """The amount paid, with a confidence from how many independent cues agree on it."""
    ledger = build_ledger(lines, invoice=invoice)
    guessed = invoice and _before_tax_as_subtotals(ledger)
    support = support_for(ledger, item_sum, invoice=invoice)
    if not support:
        return _fallback(lines, ledger)
    ranked = sorted(support.items(), key=lambda kv: _score(kv[1], kv[0]), reverse=True)
    value, best = ranked[0]
    runner_up = _score(ranked[1][1], ranked[1][0])[0] if len(ranked) > 1 else None
    found = _candidate(value, best, runner_up)
    if guessed:
        # Which of a net total and another is due, the words alone said: reviewed.
        found.confidence = min(found.confidence, DISAGREEMENT_CAP)
    return found


def support_for(
    ledger: Ledger, item_sum: Decimal | None, *, invoice: bool = False
) -> dict[Decimal, _Support]:
    """Every amount some label or some arithmetic of the receipt claims as the total;
    ``invoice`` as for _add_labelled."""
    support: dict[Decimal, _Support] = defaultdict(_Support)
    _add_labelled(ledger, support, invoice=invoice)
    _add_arithmetic(ledger, support, item_sum)
    return support


def _add_labelled(
    ledger: Ledger, support: dict[Decimal, _Support], *, invoice: bool = False
) -> None:
    """The totals' labels as cues. On an invoice (``invoice``), a running total carried
    from page to page ("Total carried forward", "Page total", "Cumulative total") is no
    cue while the invoice prints a total of its own: it claimed the total as strongly as
    the amount due, so "Total carried forward 1,000.00" / "Total brought forward
    1,000.00" / "Total due 1,500.00" was read as 1,000.00, and a two-page invoice with a
    page total went to review (0.712)."""
    last_rounding = max((r.line_index for r in ledger.roundings if r.value != 0), default=-1)
    totals = ledger.totals
    if invoice:
        kept = [t for t in totals if not _INVOICE_CARRIED.search(t[2])]
        if any(ref.value > 0 for _, ref, _ in kept):
            totals = kept
    for weight, ref, label in totals:
        if ref.value <= 0:
            continue
        # A total printed before a non-zero rounding line is the pre-rounding amount.
        if ref.line_index < last_rounding and weight < ROUNDED_WEIGHT:
            weight -= 1.5
        support[ref.value].add(f"label:{squash(label)[:20]}", weight, ref)


def _add_arithmetic(
    ledger: Ledger, support: dict[Decimal, _Support], item_sum: Decimal | None
) -> None:
    """Totals implied by the receipt's own arithmetic; each is an independent cue.

    A derived amount only counts when it is printed somewhere or already claimed, so a
    misread component cannot invent a total that appears nowhere on the receipt.
    """

    def claim(value: Decimal, cue: str, weight: float, *refs: AmountRef) -> None:
        if value > 0 and (value in ledger.printed or value in support):
            support[value].add(cue, weight, *refs)

    labelled = [ref for _, ref, _ in ledger.totals]
    roundings = [r for r in ledger.roundings if r.value != 0]
    for tender in ledger.tenders:
        for change in ledger.changes:
            if change.line_index > tender.line_index:
                claim(tender.value - change.value, "cash-change", 2.0, tender, change)
        if tender.value in support:
            support[tender.value].add("tender", 1.0, tender)
    for rounding in roundings:
        for ref in labelled + ledger.subtotals:
            if ref.line_index < rounding.line_index:
                claim(ref.value + rounding.value, "rounding", 2.0, ref, rounding)
    adjustment = roundings[-1].value if roundings else Decimal(0)
    for sub in ledger.subtotals:
        for tax in ledger.taxes:
            claim(sub.value + tax.value + adjustment, "subtotal+tax", 1.5, sub, tax)
        if sub.value in support:
            support[sub.value].add("subtotal", 0.5, sub)
    if item_sum is not None and item_sum in support:
        support[item_sum].add("line-items", 1.0)
    for ref, parts in ledger.total_sums:
        claim(ref.value, "totals-sum", 2.0, ref, *parts)


def _sums_of_totals(
    totals: list[tuple[float, AmountRef, str]],
) -> list[tuple[AmountRef, tuple[AmountRef, ...]]]:
    """Totals that are the sum of two or more other totals above them: the amount payable
    of a delivery note that adds up its per-rate totals, some of them negative
    ("Total 0% supplies: 42.37", "Total 6% supplies (Inc. GST): -3.82", "Total Payable:
    38.55"). The largest total there is a part, not the sum."""
    found = []
    for index, (_, ref, _) in enumerate(totals):
        above: dict[Decimal, AmountRef] = {}
        for _, part, _ in totals[:index]:
            if part.line_index < ref.line_index and part.value != ref.value:
                above[part.value] = part  # a total printed twice counts once
        parts = list(above.values())[-MAX_SUMMED_TOTALS:]
        for size in range(2, len(parts) + 1):
            match = next(
                (c for c in combinations(parts, size) if sum(p.value for p in c) == ref.value),
                None,
            )
            if match:
                found.append((ref, match))
                break
    return found


# A total label at least this strong names the grand total ("TOTAL", "NETT TOTAL",
# "Grand Total"); a bare "AMOUNT" or "AMT" (1.5) is as often a column's head.
GRAND_TOTAL_WEIGHT = 2.5
# A running total a long document carries from one page to the next is no grand total.
_CARRIED = re.compile(r"CARRIED|FORWARD|BROUGHT|TOTALCF|TOTALBF|PAGETOTAL|THISPAGE")
# What a document prints between one total and another (a total before and after them):
# a discount, a service charge, a tip, a deposit.
_ADJUSTMENT = re.compile(r"DISC|DISKAUN|SAVING|SAVED|PROMO|SERVICE|SVC|CHARGE|TIP|DEPOSIT")
MAX_ADJUSTMENTS = 10  # the last ones printed: at most 175 subsets of up to three
MAX_ADJUSTMENT_TERMS = 3


def _label_words(*words: str) -> re.Pattern[str]:
    """``words`` as whole words of a label as printed, any case. Squashed, they matched
    inside other words: SOFAR in "fees of arbitration", PRIOR in "priority", PAGE in
    "homepage", FORWARD in "forwarding". A word may still touch TOTAL, which OCR runs into
    the words beside it ("Totalcarried forward", "Pagetotal")."""
    return re.compile(
        rf"(?:(?<![A-Z])|(?<=TOTAL))(?:{'|'.join(words)})(?:(?![A-Z])|(?=TOTAL))", re.I
    )


# An invoice's running totals, those of _CARRIED and "Running total", "Total page 1",
# "Cumulative total", "Total to date", "Total so far". A long invoice prints one on each
# page. A page number printed on a total's row ("Page 2 of 2   Total due 980.00", "Page
# 2 / 2 Total due") is none: a total beside it was taken for a running one.
_INVOICE_CARRIED = _label_words(
    "CARRIED", "FORWARD(?:ED)?", "BROUGHT", r"[CB]\s*/\s*F", r"TOTAL\s*[CB]F", "RUNNING",
    "CUMULATIVE", r"TO\s*DATE", r"SO\s*FAR", r"PAGE(?!\W*\d+\s*(?:OF|/))",
)  # fmt: skip
# A total an invoice or a credit note quotes from another document: the credited
# invoice's ("Original invoice INV-1 total", "Total previously invoiced"), the last one's.
_OTHER_DOCUMENT = _label_words("ORIGINAL(?:LY)?", "PREVIOUS(?:LY)?", "PRIOR", r"LAST\s*INVOICES?")
# An invoice named by its number in a total's label ("Invoice INV-20417 total", "Invoice
# no. 20417 total due"): the total of the invoice a credit note credits. Matched on the
# label as printed (squashing drops the number).
_NUMBERED_INVOICE = re.compile(
    r"\b(?:INVOICE|INV|RECHNUNG|FACTURE|FACTURA|FACTUUR)\b\.?\s*"
    r"(?:(?:NO|NR|NUMBER|N[°º])\b\.?\s*)?[:#]?\s*[A-Z]{0,4}[-/]?\d",
    re.I,
)


def own_totals(ledger: Ledger) -> list[tuple[float, AmountRef, str]]:
    """An invoice's totals less those that are not an amount it asks or credits: running
    totals (_INVOICE_CARRIED) and another document's (_OTHER_DOCUMENT, an invoice named
    by its number)."""
    return [
        (weight, ref, label)
        for weight, ref, label in ledger.totals
        if not _INVOICE_CARRIED.search(label)
        and not _OTHER_DOCUMENT.search(label)
        and not _NUMBERED_INVOICE.search(label)
    ]


def two_documents(lines: list[Line]) -> tuple[list[AmountRef], list[AmountRef]] | None:
    """An invoice and a credit note in one PDF: (the invoice's grand totals, the credit
    note's), its own (own_totals) grand-total-labelled amounts, positive and negative,
    when no page shows both; else None. One page showing both is one document (a credit
    taken off beside the balance it leaves)."""
    ledger = build_ledger(lines, invoice=True)
    _before_tax_as_subtotals(ledger)
    grand = [ref for weight, ref, _ in own_totals(ledger) if weight >= GRAND_TOTAL_WEIGHT]
    owed = [ref for ref in grand if ref.value > 0]
    credited = [ref for ref in grand if ref.value < 0]
    if not owed or not credited:
        return None
    if {ref.line.page for ref in owed} & {ref.line.page for ref in credited}:
        return None
    return owed, credited


# A total converted into another currency, whose own is not named on its line.
_CONVERTED = re.compile(r"EQUIVAL|CONVERT|EXCHANGE|GEGENWERT|CONTREVALEUR")
# The tax named on an invoice's line, where the label does not start with it
# (classify's _INVOICE_TAX): "Total MwSt", "Montant TVA".
_INVOICE_TAX_WORD = re.compile(r"MWST|MEHRWERTSTEUER|UMSATZSTEUER|TVA|BTW|IVA")
# Words on an invoice's total line (its label or after its amount) that say whether tax
# is in it: "Total 1,250.00 (excl. VAT)", "Total net", "Total TTC", "Total incl. VAT".
_NET_BASIS = re.compile(
    # Not "Net 30" (payment terms printed on a total's row).
    r"\b(?:EXCL?|EXKL|EXCLUDING|EX\.?\s*(?:VAT|GST|TAX)|NETT?\b(?!\s*\d)|NETTO|HT|HTVA|"
    r"BEFORE\s+TAX|PRE-?\s*TAX|WITHOUT\s+(?:VAT|GST|TAX)|OHNE\s+MWST|SANS\s+TVA)\b",
    re.I,
)
_GROSS_BASIS = re.compile(
    r"\b(?:INCL?|INKL|INCLUDING|INCLUSIVE|GROSS|BRUTTO|TTC|TVAC|AFTER\s+TAX|"
    r"WITH\s+(?:VAT|GST|TAX)|MIT\s+MWST)\b",
    re.I,
)


def rival_totals(lines: list[Line], total: Decimal, *, invoice: bool = False) -> list[AmountRef]:
    """Grand-total-labelled amounts other than ``total`` whose difference from it no
    printed arithmetic explains (a rounding, a tax, a discount or charge, cash and
    change, a printed sum of the totals), in page order, on a page that does not show
    ``total`` (two receipts in one PDF, or a page added to one): a document that shows
    two grand totals that disagree has a total nobody can vouch for. A receipt printing
    its total before and after tax on one page is common, so one page's are not taken;
    across pages, such a pair is explained the same way.

    ``invoice`` reads the ledger as an invoice's, and also takes as explained what a
    long invoice prints legitimately (_explained_on_invoice)."""
    ledger = build_ledger(lines, invoice=invoice)
    grand = [
        ref
        for weight, ref, label in ledger.totals
        if weight >= GRAND_TOTAL_WEIGHT and ref.value > 0 and not _running(label, invoice=invoice)
    ]
    shown_on = {ref.line.page for ref in grand if ref.value == total} or {
        ref.line.page for ref in _every_amount(ledger) if ref.value == total
    }
    rivals = [
        ref
        for ref in grand
        if ref.value != total
        and ref.line.page not in shown_on
        and not _explained(ref, total, ledger, invoice=invoice)
        and not (invoice and _explained_on_invoice(ref, total, lines, ledger, grand, shown_on))
    ]
    return sorted(rivals, key=lambda r: r.line_index)


def _running(label: str, *, invoice: bool) -> bool:
    """Whether a total's label names a running total: an invoice's by its words
    (_INVOICE_CARRIED), a receipt's squashed (_CARRIED)."""
    if invoice:
        return bool(_INVOICE_CARRIED.search(label))
    return bool(_CARRIED.search(squash(label)))


def _explained(rival: AmountRef, total: Decimal, ledger: Ledger, *, invoice: bool = False) -> bool:
    """Whether the receipt's printed arithmetic accounts for ``rival`` beside ``total``.
    On an invoice (``invoice``), a payment, a deposit or a credit applied is such a term
    too ("Payment received -500.00", "Balance due 750.00"), and its taxes' own names."""
    if rival.value in {t.value for t in ledger.tenders}:
        return True  # the amount tendered, printed under a total's label
    label = rival.line.text[: rival.start]
    named_tax = _TAX.search(squash(label)) or (invoice and _INVOICE_TAX_WORD.search(squash(label)))
    if (named_tax or "%" in label) and rival.value <= total * TAX_SHARE_MAX:
        return True  # the tax in it: "GST @6% included in total RM 1.75", "BST @6% ..."
    summed = {ref.value for ref, parts in ledger.total_sums} | {
        part.value for _, parts in ledger.total_sums for part in parts
    }
    if {rival.value, total} & summed:
        return True
    before_rounding = any(
        r.value != 0 and r.line.page == rival.line.page and r.line_index > rival.line_index
        for r in ledger.roundings
    )
    if before_rounding:
        return True  # the amount before cash rounding
    gap = abs(rival.value - total)
    adjustments = [
        r.value
        for r in ledger.roundings
        + ledger.taxes
        + ledger.changes
        + _labelled_adjustments(ledger)
        + (ledger.tenders if invoice else [])
        if r.value != 0
    ][-MAX_ADJUSTMENTS:]
    for size in range(1, min(MAX_ADJUSTMENT_TERMS, len(adjustments)) + 1):
        for terms in combinations(adjustments, size):
            if _some_signs_sum(terms, gap):
                return True
    return False


def _explained_on_invoice(
    rival: AmountRef,
    total: Decimal,
    lines: list[Line],
    ledger: Ledger,
    grand: list[AmountRef],
    shown_on: set[int],
) -> bool:
    """Whether an invoice prints ``rival`` beside ``total`` for a reason of its own, with
    no arithmetic to show it: the total in another currency ("Total due in EUR
    €1,462.50" beside "£1,250.00"), another document's total (a credit note quoting the
    invoice it credits), or the total before or after tax where the tax is not printed
    ("Total 1,250.00 (excl. VAT)" beside "Total incl. VAT 1,500.00").

    A document naming two currencies has its currency read at MIXED_CURRENCY_CONFIDENCE,
    under every review threshold: a rival in another currency is reviewed there. So the
    total's own currency is one named outright, on its line or its page."""
    label = rival.line.text[: rival.start]
    if _OTHER_DOCUMENT.search(label) or _CONVERTED.search(squash(label)):
        return True
    shown = [ref for ref in grand if ref.value == total] or [
        ref for ref in _every_amount(ledger) if ref.value == total and ref.line.page in shown_on
    ]
    rival_currencies = currencies_named(rival.line.text)
    if rival_currencies:
        own = set().union(*(currencies_named(ref.line.text) for ref in shown))
        if not own:
            # The total's line names none: those its page names outright. Not a guess (a
            # bare "$" read as USD, a Malaysian street as MYR): the document would then
            # name one currency, the rival's, read sure, and the rival stand unreviewed.
            own = currencies_named("\n".join(line.text for line in lines if line.page in shown_on))
        if own and not own & rival_currencies:
            return True
    return any(_before_and_after_tax(rival, ref) for ref in shown)


def _before_and_after_tax(a: AmountRef, b: AmountRef) -> bool:
    """Whether two totals' lines say one is before tax and the other after it, the one
    before the smaller, by no more than a tax can add (TAX_SHARE_MAX)."""
    if a.value == b.value:
        return False
    lower, higher = sorted((a, b), key=lambda ref: ref.value)
    low, high = _tax_basis(lower), _tax_basis(higher)
    return (
        low != high
        and low != "gross"
        and high != "net"
        and higher.value - lower.value <= higher.value * TAX_SHARE_MAX
    )


def _tax_basis(ref: AmountRef) -> str | None:
    """ "net" or "gross" as a total's line (less its amount) says, else None."""
    return _basis(ref.line.text[: ref.start] + " " + ref.line.text[ref.end :])


def _basis(text: str) -> str | None:
    net, gross = _NET_BASIS.search(text), _GROSS_BASIS.search(text)
    if bool(net) == bool(gross):
        return None  # neither, or both ("Total incl. VAT, net of discount")
    return "net" if net else "gross"


# A label asking for the amount: "Net amount due" or "Net total payable" is net of a
# deposit or a credit taken off, not of tax.
_ASKING = ("DUE", "PAYABLE", r"TO\s*PAY", "OWING", "OUTSTANDING")
_ASKED = _label_words(*_ASKING)
# A label naming the whole document's total: one asking for it (_ASKED), a grand total.
_DUE_OR_GRAND = _label_words(*_ASKING, "GRAND")


def _before_tax_as_subtotals(ledger: Ledger) -> bool:
    """Make an invoice's totals that its arithmetic shows to come before the amount due
    subtotals; whether a "net" total's place is a guess. The word says nothing sure:
    "Net total" is before tax on a British invoice ("Net total 1,250.00" / "VAT 250.00" /
    "Total 1,500.00") and the amount due on a Malaysian one ("Total 950.00" / "SST 6%
    57.00" / "Net Total 1,007.00", read as 950.00 at 0.95; "Total 1,250.00" / "Less
    deposit 250.00" / "Net total 1,000.00", read as 1,250.00). So a total whose label
    or line says net ("Total net", "Total amount (net)", "Total 1,250.00 excl. VAT")
    is a subtotal when it plus the tax is another total (_leads_to), and another total is
    when it plus the tax, or less what is printed between them, is the net one. Where
    the arithmetic links it to no other total of its sign, a net total is taken for a
    subtotal as the word says, unless its label asks for the amount ("Net amount due");
    the total read is then a guess (True) unless another total's words say it is the
    amount due. An invoice whose only total is net (zero-rated) keeps it. A credit
    note's totals are read so too, all negative."""
    labelled = [
        (ref, _ASKED.search(label) is not None)
        for _, ref, label in ledger.totals
        if ref.value != 0 and _basis(f"{label} {ref.line.text[ref.end :]}") == "net"
    ]
    by_word = {id(ref) for ref, asked in labelled if not asked}
    own = [(r, label) for _, r, label in own_totals(ledger) if id(r) not in by_word]
    before: set[int] = set()
    guessed = False
    for net, asked in labelled:
        others = [
            (r, label) for r, label in own if r.value * net.value > 0 and r.value != net.value
        ]
        if not others:
            continue
        steps = [r for r, _ in others if _leads_to(ledger, r, net)]
        before.update(id(r) for r in steps)
        if any(_leads_to(ledger, net, r) for r, _ in others):
            before.add(id(net))
        elif not steps and not asked:
            before.add(id(net))
            # Sure only beside a total whose words say it is due ("Total due", "Total
            # incl. VAT"), not beside a plain "Total" that may come before the net one.
            guessed = guessed or not any(
                _ASKED.search(label) or _tax_basis(r) == "gross" for r, label in others
            )
    if before:
        moved = [ref for _, ref, _ in ledger.totals if id(ref) in before]
        ledger.totals = [t for t in ledger.totals if id(t[1]) not in before]
        ledger.subtotals = sorted([*ledger.subtotals, *moved], key=lambda r: r.line_index)
        ledger.total_sums = _sums_of_totals(ledger.totals)
    return guessed


def _leads_to(ledger: Ledger, start: AmountRef, end: AmountRef) -> bool:
    """Whether ``end`` is ``start`` plus some of the invoice's taxes (wherever printed:
    a tax summary may stand under the totals), give or take what is printed between
    the two (a deposit, a discount, a service charge, a payment, the rounding, printed
    with a sign or without), up to MAX_ADJUSTMENT_TERMS of each. With no tax in it,
    ``end`` must be printed below ``start``: "Total 1,250.00" / "Less deposit 250.00" /
    "Net total 1,000.00" is the net total after the deposit, "Net total 1,250.00" /
    "Deposit paid 250.00" / "Balance due 1,000.00" the balance after it."""
    low, high = sorted((start.line_index, end.line_index))
    between = [
        ref.value
        for ref in ledger.roundings + _labelled_adjustments(ledger) + ledger.tenders
        if low < ref.line_index < high and ref.value != 0
    ]
    adjusted = _sums(between[-MAX_ADJUSTMENTS:], signed=True)
    # A credit note's tax is negative as its totals are.
    taxes = [t.value for t in ledger.taxes if t.value * end.value > 0]
    taxed = _sums(taxes[-MAX_ADJUSTMENTS:], signed=False)
    gap = end.value - start.value
    if any(gap - tax in adjusted for tax in taxed if tax):
        return True
    return start.line_index < end.line_index and gap != 0 and gap in adjusted


def _sums(values: list[Decimal], *, signed: bool) -> set[Decimal]:
    """Every sum of up to MAX_ADJUSTMENT_TERMS of ``values`` (none: 0), each term added
    or, ``signed``, taken away."""
    found = {Decimal(0)}
    for size in range(1, min(MAX_ADJUSTMENT_TERMS, len(values)) + 1):
        for terms in combinations(values, size):
            for signs in product((1, -1), repeat=size) if signed else [(1,) * size]:
                found.add(
                    sum((sign * term for sign, term in zip(signs, terms, strict=True)), Decimal(0))
                )
    return found


# A tip, as a card slip or a bill adds it under the bill's total.
_TIP = _label_words("TIPS?", "GRATUITY", "POURBOIRE", "FOOI", "TRINKGELD", "PROPINA", "MANCIA")


def amount_with_tip(lines: list[Line], total: Decimal) -> AmountRef | None:
    """The amount paid with a tip, where the receipt adds one under ``total``: a tip
    printed below the total, and the sum of the two printed below the tip ("Total 80.57",
    "Tip 16.00", "Amount Paid 96.57"). None when nothing below adds the tip up (a blank or
    a suggested tip) or when ``total`` is printed between the tip and that sum (what was
    paid without it: a tip in cash). A total printed again below the sum is the slip's
    other copy (the merchant's): read as the tip's being included, it had the bill's
    total go straight through as what was paid."""
    amounts = _every_amount(build_ledger(lines))
    printed_at = [ref.line_index for ref in amounts if ref.value == total]
    if not printed_at or total <= 0:
        return None
    for tip in sorted(amounts, key=lambda ref: ref.line_index):
        label = tip.line.text[: tip.start]
        if tip.value <= 0 or tip.line_index <= min(printed_at) or not _TIP.search(label):
            continue
        paid = [
            ref
            for ref in amounts
            if ref.value == total + tip.value and ref.line_index > tip.line_index
        ]
        first = min(paid, key=lambda ref: (ref.line_index, ref.start), default=None)
        if first is None or any(tip.line_index < at < first.line_index for at in printed_at):
            continue
        return first
    return None


def _every_amount(ledger: Ledger) -> list[AmountRef]:
    return [ref for _, ref, _ in ledger.totals] + [
        ref for bucket in _BUCKETS.values() for ref in getattr(ledger, bucket)
    ]


def _labelled_adjustments(ledger: Ledger) -> list[AmountRef]:
    return [r for r in ledger.others if _ADJUSTMENT.search(squash(r.line.text[: r.start]))]


def _some_signs_sum(terms: tuple[Decimal, ...], gap: Decimal) -> bool:
    """Whether adding or taking away each of ``terms`` comes to ``gap`` (either way)."""
    sums = {Decimal(0)}
    for term in terms:
        sums = {s + term for s in sums} | {s - term for s in sums}
    return gap in sums or -gap in sums


def _score(s: _Support, value: Decimal) -> tuple[float, Decimal]:
    # Independent cues beyond the first add up; ties go to the larger amount (the total
    # is never smaller than a component printed with a similar label).
    return (s.weight + 0.9 * (len(s.cues) - 1), value)


def _candidate(value: Decimal, best: _Support, runner_up: float | None) -> Candidate:
    score = _score(best, value)[0]
    if score >= 4.5:
        base = 0.985
    elif score >= 3.4:
        base = 0.95
    elif score >= 2.5:
        base = 0.86
    elif score >= 1.5:
        base = 0.7
    else:
        base = 0.5
    if runner_up is not None and runner_up >= score - 0.5:
        base *= 0.75  # two amounts claim the total about equally
    value_refs = [r for r in best.refs if r.value == value] or best.refs
    ocr = min((r.ocr_confidence for r in value_refs), default=0.9)
    confidence = base * ocr_factor(ocr)
    evidence = [r.evidence for r in value_refs[:3]]
    return Candidate(value, round(confidence, 3), evidence, sorted(best.cues))


def _fallback(lines: list[Line], ledger: Ledger) -> Candidate | None:
    """No total label: the largest amount in the lower half that is not cash or change."""
    excluded = {id(r) for r in ledger.tenders + ledger.changes}
    pool = [
        r
        for r in ledger.others + ledger.subtotals
        if id(r) not in excluded and r.line.center_y > 0.4 and r.value > 0
    ]
    if not pool:
        return None
    ref = max(pool, key=lambda r: r.value)
    return Candidate(ref.value, 0.4, [ref.evidence], ["largest-amount"])


def find_tax(
    lines: list[Line], total: Decimal | None, *, invoice: bool = False
) -> Candidate | None:
    ledger = build_ledger(lines, invoice=invoice)
    if invoice:
        _before_tax_as_subtotals(ledger)
    taxes = [t for t in ledger.taxes if _part_of(t.value, total)]
    if not taxes:
        return None
    # The last tax line is usually the summary ("Total GST"), not a per-rate breakdown.
    tax = taxes[-1]
    confidence = 0.75
    if total is not None and any(s.value + tax.value == total for s in ledger.subtotals):
        confidence = 0.95  # subtotal + tax reproduces the total
    return Candidate(
        tax.value, round(confidence * ocr_factor(tax.ocr_confidence), 3), [tax.evidence]
    )


# The largest share of a total any sales tax takes: 27 % VAT (the highest there is) is
# 21 % of the price it is included in. A larger "tax" is the amount it was charged on
# (a tax summary's first column, whose tax OCR did not read as an amount).
TAX_SHARE_MAX = Decimal("0.3")


def _part_of(tax: Decimal, total: Decimal | None) -> bool:
    """Whether ``tax`` can be the tax in ``total``: the same sign (a credit note's tax is
    negative too) and at most TAX_SHARE_MAX of it."""
    if total is None:
        return tax >= 0
    if total >= 0:
        return 0 <= tax <= total * TAX_SHARE_MAX
    return total * TAX_SHARE_MAX <= tax < 0
