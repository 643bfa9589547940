"""The stock project's endpoints: DRF views as its tutorial writes them, one per stock class."""

from typing import Any

from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.authentication import JWTStatelessUserAuthentication


class ProfileSerializer(serializers.ModelSerializer):
    """The profile resource, with dualauth's fields: the user and its profile row."""

    display_name = serializers.CharField(source="profile.display_name", read_only=True)
    bio = serializers.CharField(source="profile.bio", read_only=True)

    class Meta:
        model = get_user_model()
        fields = ["id", "username", "email", "display_name", "bio", "date_joined"]


class ConstantApi(APIView):
    """A constant body, no credentials: the cost of Django + DRF alone (the baseline)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        """Always the same small body."""
        return Response({"status": "ok"})


class ProfileApi(APIView):
    """The authenticated user's profile, behind the authentication class its route names."""

    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        """My profile: the user the authentication class found, and its profile row."""
        return Response(ProfileSerializer(request.user).data)


class StatelessJwtApi(APIView):
    """simplejwt `JWTStatelessUserAuthentication`: the claims alone, no database, no revocation."""

    authentication_classes = [JWTStatelessUserAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        """What the token says: the user's id."""
        return Response({"id": request.user.id})
