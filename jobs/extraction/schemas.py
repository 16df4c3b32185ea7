"""Required fields and JSON Schemas (draft 2020-12) of ``Extraction.fields`` per kind."""

from __future__ import annotations

from typing import Any

REQUIRED_FIELDS: dict[str, list[str]] = {
    "receipt": ["merchantName", "date", "totalAmount"],
    "invoice": ["invoiceNumber", "vendorName", "invoiceDate", "totalAmount"],
}

# A value refused by a pattern is told the form in these words: the field's description
# and its first example (steve.workflow_rules), read by reviewers and integrators alike.
_DATE = {
    "type": "string",
    "format": "date",
    "pattern": r"^\d{4}-\d{2}-\d{2}$",
    "description": "a date as YYYY-MM-DD",
    "examples": ["2024-02-29"],
}
_TIME = {
    "type": "string",
    "pattern": r"^([01]\d|2[0-3]):[0-5]\d$",
    "description": "a time as HH:MM (24-hour)",
    "examples": ["21:30"],
}
# Amounts carry two decimals; "multipleOf: 0.01" is not used because binary floats
# (16.4 / 0.01 = 1639.999...) make validators reject correct values. A total or a tax is
# negative on a credit note or a refund ("Total Payable: -6.42").
_SIGNED_AMOUNT = {
    "type": "number",
    "description": "amount with 2 decimals, negative when paid back",
}
_TEXT = {"type": "string", "minLength": 1}
_CURRENCY = {
    "type": "string",
    "pattern": "^[A-Z]{3}$",
    "description": "a currency as its three-letter code in capitals (ISO 4217)",
    "examples": ["MYR"],
}
_LINE_ITEMS = {
    "type": "array",
    "items": {
        "type": "object",
        "properties": {
            "description": _TEXT,
            "quantity": {"type": "number", "exclusiveMinimum": 0},
            "amount": _SIGNED_AMOUNT,
        },
        "required": ["description", "quantity", "amount"],
        "additionalProperties": False,
    },
}


def _schema(kind: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://steve.example/schemas/extraction/{kind}.json",
        "title": f"{kind.capitalize()} extracted data",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
    }


OUTPUT_SCHEMAS: dict[str, dict[str, Any]] = {
    "receipt": _schema(
        "receipt",
        {
            "merchantName": _TEXT,
            "merchantAddress": _TEXT,
            "date": _DATE,
            "time": _TIME,
            "totalAmount": _SIGNED_AMOUNT,
            "currency": _CURRENCY,
            "taxAmount": _SIGNED_AMOUNT,
            "receiptNumber": _TEXT,
            "lineItems": _LINE_ITEMS,
        },
    ),
    "invoice": _schema(
        "invoice",
        {
            "invoiceNumber": _TEXT,
            "vendorName": _TEXT,
            "vendorTaxId": _TEXT,
            "customerName": _TEXT,
            "invoiceDate": _DATE,
            "dueDate": _DATE,
            "totalAmount": _SIGNED_AMOUNT,
            "currency": _CURRENCY,
            "taxAmount": _SIGNED_AMOUNT,
            "lineItems": _LINE_ITEMS,
        },
    ),
}
