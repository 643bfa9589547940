"""The adopting project's URLs: its admin, and dualauth under the prefix it chose."""

from django.contrib import admin
from django.urls import include, path

# JSON, not HTML, for what Django refuses before any view under the prefix (a bad Host).
handler400 = "common.views.bad_request"
handler500 = "common.views.server_error"

urlpatterns = [
    path("admin/", admin.site.urls),
    # Wherever it likes: dualauth finds the prefix, and its cookie paths follow.
    path("auth/v1/", include("common.urls")),
]
