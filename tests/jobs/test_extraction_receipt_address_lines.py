"""A merchant's address read from the lines under the name, on receipts unlike SROIE's (a
probe off SROIE): the address ran on into the next line (a date, a card slip, a document
title, a phone or a tax registration line) and a street line abroad ("24 Rue de Rivoli",
"Corso Vittorio Emanuele 88") was dropped, wrong at 0.81 with a street word and a
postcode, straight through at the default review threshold."""

from __future__ import annotations

import re

import pytest

from jobs.extraction.header import find_address
from jobs.extraction.layout import Line, Word


def _line(text: str, y: float, x0: float = 0.2, x1: float = 0.8, height: float = 0.02) -> Line:
    return Line(page=0, words=[Word(text, (x0, y, x1, y + height), 0.98)])


def _row(label: str, amount: str, y: float) -> Line:
    return Line(
        page=0,
        words=[
            Word(label, (0.05, y, 0.5, y + 0.02), 0.98),
            Word(amount, (0.7, y, 0.95, y + 0.02), 0.98),
        ],
    )


def _receipt(name: str, address: list[str], below: list[str]) -> list[Line]:
    """A name, its address and the lines printed under it, then a gap and the items."""
    lines = [_line(name, 0.03, 0.15, 0.85, 0.03)]
    y = 0.07
    for text in [*address, *below]:
        lines.append(_line(text, y))
        y += 0.025
    y += 0.2
    return [*lines, _row("Item A", "12.00", y), _row("TOTAL", "12.00", y + 0.05)]


def _read(lines: list[Line]):
    from jobs.extraction.ranker import load_model
    from jobs.extraction.receipt import choose_fields, read_receipt

    rules, options = read_receipt(lines, "\n".join(line.text for line in lines))
    return choose_fields(rules, options, lines, load_model())["merchantAddress"]


def _same(read: object, expected: str) -> bool:
    return re.sub(r"\s+", "", str(read)).casefold() == re.sub(r"\s+", "", expected).casefold()


STREET = ["88 Market Street", "10200 George Town"]


@pytest.mark.parametrize(
    "below",
    [
        "05/12/2026 14:03",  # a date and time
        "Datum: 05.12.2026",
        "Mon 5 Dec 2026 19:45",
        "12.11.2026 19:45 Kasse 2",
        "Terminal ID 0042 VISA ****1234",  # a card slip
        "CB VISA ****4321",
        "Carte bancaire 0042",
        "FACTURE",  # a document's title
        "FATTURA",
        "RECHNUNG",
        "Factura simplificada",
        "CASH RECEIPT",
        "Tél : 01 42 60 12 34",  # a phone number, grouped as in France or Italy
        "+39 02 1234 5678",
        "VAT Reg No: GB 123 4567 89",  # a tax registration
        "P.IVA 01234567890",
        "N° TVA FR 12 345678901",
        "UEN/GST Reg No: 201234567X",
    ],
)
def test_the_address_ends_before_a_line_that_is_no_address_line(below: str):
    """ "88 Market Street 10200 George Town 05/12/2026 14:03" went straight through at 0.81."""
    address = _read(_receipt("SUNRISE MART SDN BHD", STREET, [below]))
    assert _same(address.value, " ".join(STREET)), address


@pytest.mark.parametrize(
    ("name", "street", "town"),
    [
        ("LIBRAIRIE MARTIN", "24 Rue de Rivoli", "75004 Paris"),
        ("TRATTORIA DA MARIO", "Corso Vittorio Emanuele 88", "20122 Milano"),
        ("BAECKEREI SCHMIDT", "Hauptstrasse 5", "10115 Berlin"),
        ("TAPAS EL SOL", "Calle Mayor 14", "28013 Madrid"),
        ("CAFE LUMIERE", "8 Place Bellecour", "69002 Lyon"),
        ("PIZZERIA NAPOLI", "Via Roma 12a", "80100 Napoli"),
    ],
)
def test_the_street_line_above_the_postcode_is_part_of_the_address(
    name: str, street: str, town: str
):
    """A street abroad names no street word the reader knows ("Rue", "Corso"), and its house
    number takes no comma: only the postcode's line was read ("75004 Paris")."""
    for below in ([], ["FACTURE"], ["05/12/2026 14:03"]):
        address = _read(_receipt(name, [street, town], below))
        assert _same(address.value, f"{street} {town}"), (below, address)


def test_a_line_above_the_postcode_without_a_house_number_is_no_street():
    # A shop's slogan or branch between name and address is passed over as before.
    lines = _receipt("CAFE LUMIERE", ["Salon de the", "69002 Lyon"], [])
    address = find_address(lines, 0)
    assert address is not None and _same(address.value, "69002 Lyon"), address


@pytest.mark.parametrize(
    "address",
    [
        ["Lot 2.03, Level 2, Terminal 1", "KLIA, 64000 Sepang"],  # an airport's terminal
        ["No. 5, Jalan 12/14", "Taman Mawar", "43000 Kajang, Selangor"],
        ["Level 3, 10-11-12 Plaza", "50450 Kuala Lumpur"],
    ],
)
def test_an_address_that_reads_like_a_date_or_a_terminal_is_kept_whole(address: list[str]):
    lines = _receipt("SUNRISE MART SDN BHD", address, ["05/12/2026 14:03"])
    found = find_address(lines, 0)
    assert found is not None and _same(found.value, " ".join(address)), found
