"""Bench-only routes in front of the product's: none of them exists in `project.urls`."""

from django.urls import include, path

from bench.views import (
    ConstantApi,
    StatelessJwtProfileApi,
    StockJwtProfileApi,
    StockSessionLogoutApi,
    StockSessionProfileApi,
)

urlpatterns = [
    path("bench/constant/", ConstantApi.as_view()),
    path("bench/stock-jwt/profile/", StockJwtProfileApi.as_view()),
    path("bench/stock-session/profile/", StockSessionProfileApi.as_view()),
    path("bench/stock-session/logout/", StockSessionLogoutApi.as_view()),
    path("bench/stateless-jwt/profile/", StatelessJwtProfileApi.as_view()),
    path("", include("project.urls")),
]
