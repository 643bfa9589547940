"""The stock project's routes: the baseline, one profile per stock class, and their logins."""

from django.urls import path
from rest_framework.authtoken.views import obtain_auth_token
from rest_framework_simplejwt.views import TokenObtainPairView

from bench.stock import views

urlpatterns = [
    path("constant/", views.ConstantApi.as_view()),
    path("jwt/profile/", views.JwtProfileApi.as_view()),
    path("jwt/stateless/", views.StatelessJwtApi.as_view()),
    path("token/profile/", views.TokenProfileApi.as_view()),
    path("session/profile/", views.SessionProfileApi.as_view()),
    path("jwt/token/", TokenObtainPairView.as_view()),
    path("token/login/", obtain_auth_token),
    path("session/login/", views.SessionLoginApi.as_view()),
    path("session/logout/", views.SessionLogoutApi.as_view()),
]
