"""The participant JSON API (DRF), addressed by the participant's unguessable token.

No Django session is involved, so DRF's CSRF check does not apply: the page_uuid of the current
page is the anti-forgery token (a forged request cannot know it), and only JSON bodies are
accepted (a cross-site form cannot send one without a CORS preflight). Multipart bodies (a
`payload` JSON field plus files, for recordings) need the same page_uuid inside the payload.
"""

from django.core.exceptions import RequestDataTooBig
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from assets.services import discard_staged_on_error
from assets.uploads import split_multipart, upload_refusal

from . import services
from .selectors import page_payload, participant_by_token


class SubmitSerializer(serializers.Serializer):
    page_uuid = serializers.UUIDField()
    answer = serializers.JSONField(required=False, allow_null=True)
    metadata = serializers.DictField(required=False)


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


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField()
    page = PageSerializer(required=False)


class ParticipantAPIView(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]


class PageView(ParticipantAPIView):
    @extend_schema(responses={200: PageSerializer, 404: ErrorSerializer}, operation_id="page_current")
    def get(self, request: Request, token: str) -> Response:
        """The participant's current page."""
        participant = participant_by_token(token)
        if participant is None:
            return Response({"error": "unknown participant token"}, status=status.HTTP_404_NOT_FOUND)
        return Response(page_payload(participant))


class ResponseView(ParticipantAPIView):
    parser_classes = [JSONParser, MultiPartParser]

    @extend_schema(
        request=SubmitSerializer,
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
        # --- assets: multipart (payload JSON + files); the total size is bounded before reading ---
        files = None
        if request.content_type.startswith("multipart/"):
            refused = upload_refusal(request)
            if refused is not None:
                return Response({"error": refused[1]}, status=refused[0])
        try:
            data = request.data
        except RequestDataTooBig:
            return Response({"error": "request body too large"}, status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE)
        if request.content_type.startswith("multipart/"):
            data, files, problem = split_multipart(data, request.FILES)
            if problem:
                return Response({"error": problem}, status=status.HTTP_400_BAD_REQUEST)
        if not isinstance(data, dict):
            raise ParseError("the body must be a JSON object")
        serializer = SubmitSerializer(data=data)
        if not serializer.is_valid():
            return Response({"error": _first_error(serializer.errors)}, status=status.HTTP_400_BAD_REQUEST)
        try:
            with discard_staged_on_error():
                result = services.response_submit(
                    token=token,
                    page_uuid=serializer.validated_data["page_uuid"],
                    raw_answer=serializer.validated_data.get("answer"),
                    metadata=serializer.validated_data.get("metadata"),
                    files=files,
                )
        except services.SubmitError as exc:
            body = {"error": exc.message}
            if exc.participant is not None and exc.status in (409, 422):
                # A replay or a rejected answer is answered with the page the participant is on.
                fresh = participant_by_token(token)
                if fresh is not None:
                    body["page"] = page_payload(fresh, error=exc.message if exc.status == 422 else None)
            return Response(body, status=exc.status)
        return Response(page_payload(result.participant))


def _first_error(errors: dict) -> str:
    for field, messages in errors.items():
        message = messages[0] if isinstance(messages, list) and messages else messages
        return f"{field}: {message}"
    return "invalid request"
