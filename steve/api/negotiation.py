"""Content negotiation for the API: it answers in JSON whatever Accept says.

The API has one representation (JSON; errors as application/problem+json). DRF refused
any other Accept with 406, so a client asking for `application/problem+json` alone, as
RFC 9457 suggests for error handling, got 406 on every call, its 404s and 422s hidden
behind it. RFC 9110 (12.5.1) lets a server disregard an Accept it cannot satisfy. A `?format=` that
names no renderer is disregarded the same way: DRF answered it 404 NOT_FOUND, so a caller
sending format=csv was told the submission it asked for did not exist.
"""

from typing import Any

from django.http import Http404
from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer
from rest_framework.request import Request


class JsonWhateverAccept(DefaultContentNegotiation):
    def select_renderer(
        self, request: Request, renderers: list[BaseRenderer], format_suffix: Any = None
    ) -> tuple[BaseRenderer, str]:
        try:
            return super().select_renderer(request, renderers, format_suffix)
        except (NotAcceptable, Http404):  # Http404: no renderer has that ?format=
            return renderers[0], renderers[0].media_type
