"""The stock project's routes: the baseline, and one profile per stock class."""

from django.urls import path

from bench.stock import views

urlpatterns = [
    path("constant/", views.ConstantApi.as_view()),
    path("jwt/profile/", views.JwtProfileApi.as_view()),
    path("jwt/stateless/", views.StatelessJwtApi.as_view()),
    path("token/profile/", views.TokenProfileApi.as_view()),
    path("session/profile/", views.SessionProfileApi.as_view()),
]
