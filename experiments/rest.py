"""The participant JSON API (DRF), addressed by the participant's unguessable token.

No Django session is involved, so DRF's CSRF check does not apply: the page_uuid of the current
page is the anti-forgery token (a forged request cannot know it), and only JSON bodies are
accepted (a cross-site form cannot send one without a CORS preflight). Multipart bodies (a
`payload` JSON field plus files, for recordings) need the same page_uuid inside the payload.
"""

import io
import json
import re
import sys
from typing import Any

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError, UnsupportedMediaType
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from . import hooks, services
from .selectors import page_payload, participant_by_token


class SubmitSerializer(serializers.Serializer):
    page_uuid = serializers.UUIDField()
    answer = serializers.JSONField(required=False, allow_null=True)
    metadata = serializers.DictField(required=False)


class MultipartSubmitSerializer(serializers.Serializer):
    """A submit carrying files (recordings): the JSON body in `payload`, each file in its field."""

    payload = serializers.CharField(help_text="the JSON body: page_uuid, answer, metadata")
    audio = serializers.FileField(required=False, help_text="AudioRecordControl's recording")


class PageSerializer(serializers.Serializer):
    page_uuid = serializers.UUIDField(allow_null=True)
    label = serializers.CharField()
    kind = serializers.CharField()
    title = serializers.CharField(allow_blank=True)
    prompt = serializers.DictField()
    control = serializers.DictField()
    time_estimate = serializers.FloatField(allow_null=True)
    terminal = serializers.BooleanField()
    auto_submit_after = serializers.FloatField(allow_null=True)
    progress = serializers.FloatField()
    failed = serializers.BooleanField()
    complete = serializers.BooleanField()
    error = serializers.CharField(allow_null=True)
    scripts = serializers.ListField(child=serializers.CharField())


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    page = PageSerializer(required=False)


#: Characters PostgreSQL cannot store in jsonb: NUL, and surrogates not part of a pair.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _finite_float(text: str) -> float:
    value = float(text)
    if value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _bounded_int(text: str) -> int:
    value = int(text)
    if abs(value) > sys.float_info.max:
        raise ValueError("integer is out of range")
    return value


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not valid JSON")


def _check_storable(value: Any) -> None:
    if isinstance(value, str):
        if _UNSTORABLE.search(value):
            raise ParseError("JSON parse error - strings may not contain NUL (\\u0000) "
                             "or unpaired surrogate characters")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_storable(key)
            _check_storable(item)
    elif isinstance(value, list):
        for item in value:
            _check_storable(item)


class StrictJSONParser(JSONParser):
    """DRF's JSON parser, refusing (400) what would otherwise fail later as a 500: deep nesting
    (RecursionError), numbers beyond a double (inf; ints that overflow float()), and strings
    PostgreSQL's jsonb cannot hold (NUL, lone surrogates)."""

    def parse(self, stream, media_type=None, parser_context=None):
        encoding = (parser_context or {}).get("encoding") or "utf-8"
        try:
            text = stream.read().decode(encoding)
            data = json.loads(text, parse_float=_finite_float, parse_int=_bounded_int,
                              parse_constant=_reject_constant)
            if "\\u" in text:  # NUL and surrogates can only arrive escaped
                _check_storable(data)
        except (ValueError, RecursionError) as exc:
            raise ParseError(f"JSON parse error - {str(exc)[:200]}") from None
        return data


def participant_exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF's handler, answering every error as `{"error": message}` (what page.js shows), and
    a body over DATA_UPLOAD_MAX_MEMORY_SIZE as 413 (Django would make it a 400)."""
    if isinstance(exc, RequestDataTooBig):
        return Response({"error": "request body too large"},
                        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
    response = api_settings.EXCEPTION_HANDLER(exc, context)
    if response is not None and isinstance(response.data, dict) and "detail" in response.data:
        response.data = {"error": str(response.data["detail"])}
    return response


class ParticipantAPIView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]
    parser_classes = [StrictJSONParser]

    def get_exception_handler(self):
        return participant_exception_handler


class PageView(ParticipantAPIView):
    @extend_schema(responses={200: PageSerializer, 404: ErrorSerializer}, operation_id="page_current")
    def get(self, request: Request, token: str) -> Response:
        """The participant's current page."""
        participant = participant_by_token(token)
        if participant is None:
            return Response({"error": "unknown participant token"}, status=status.HTTP_404_NOT_FOUND)
        return Response(page_payload(participant))


def page_json(page: dict[str, Any]) -> bytes:
    """A page payload as the page API sends it (its own renderer): what a browser gets (bots too)."""
    return PageView.renderer_classes[0]().render(page)


class ResponseView(ParticipantAPIView):
    parser_classes = [StrictJSONParser, MultiPartParser]

    @extend_schema(
        request={"application/json": SubmitSerializer,
                 "multipart/form-data": MultipartSubmitSerializer},
        responses={
            200: PageSerializer,
            400: ErrorSerializer, 404: ErrorSerializer, 409: ErrorSerializer,
            413: ErrorSerializer, 415: ErrorSerializer,
            422: OpenApiResponse(ErrorSerializer, description="validate() rejected the answer"),
        },
        operation_id="response_submit",
    )
    def post(self, request: Request, token: str) -> Response:
        """Submit the answer to the current page (`page_uuid`); returns the next page."""
        media_type = request.content_type.split(";")[0].strip().lower()
        files = None
        if media_type == "multipart/form-data":
            # A `payload` JSON field plus files (recordings), read by the assets app's handler.
            refused = hooks.upload_handler.refusal(request)
            if refused is not None:
                return Response({"error": refused[1]}, status=refused[0])
            payload, files, problem = hooks.upload_handler.split(request.data, request.FILES)
            if problem:
                return Response({"error": problem}, status=status.HTTP_400_BAD_REQUEST)
            data = StrictJSONParser().parse(io.BytesIO(payload.encode("utf-8", "surrogatepass")))
        elif media_type != "application/json":
            # Without this, a body with no Content-Type would parse as {} and get a puzzling 400.
            raise UnsupportedMediaType(request.content_type or "(none)")
        else:
            data = request.data
        if not isinstance(data, dict):
            raise ParseError("the body must be a JSON object")
        serializer = SubmitSerializer(data=data)
        if not serializer.is_valid():
            return Response({"error": _first_error(serializer.errors)}, status=status.HTTP_400_BAD_REQUEST)
        try:
            with hooks.upload_handler.guard():
                result = services.response_submit(
                    token=token,
                    page_uuid=serializer.validated_data["page_uuid"],
                    raw_answer=serializer.validated_data.get("answer"),
                    metadata=serializer.validated_data.get("metadata"),
                    files=files,
                )
        except services.SubmitError as exc:
            body = {"error": exc.message}
            if exc.status in (409, 422):
                # A replay or a rejected answer is answered with the page the participant is on.
                fresh = participant_by_token(token)
                if fresh is not None:
                    body["page"] = page_payload(fresh, error=exc.message if exc.status == 422 else None)
            return Response(body, status=exc.status)
        return Response(page_payload(result.participant, page=result.page))


def _first_error(errors: dict) -> str:
    for field, messages in errors.items():
        message = messages[0] if isinstance(messages, list) and messages else messages
        return f"{field}: {message}"
    return "invalid request"
