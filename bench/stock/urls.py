"""The stock project's routes: the baseline, and the profile behind each stock class."""

from django.urls import path
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication

from bench.stock import views

urlpatterns = [
    path("constant/", views.ConstantApi.as_view()),
    # simplejwt: decode, then the user's row (its `is_active`).
    path("jwt/profile/", views.ProfileApi.as_view(authentication_classes=[JWTAuthentication])),
    path("jwt/stateless/", views.StatelessJwtApi.as_view()),
    # DRF: the token's row joined to its user.
    path("token/profile/", views.ProfileApi.as_view(authentication_classes=[TokenAuthentication])),
    # DRF, over the settings' session engine.
    path(
        "session/profile/", views.ProfileApi.as_view(authentication_classes=[SessionAuthentication])
    ),
]
