from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from bankcrm import views

handler400 = "bankcrm.views.bad_request"
handler403 = "bankcrm.views.permission_denied"
handler404 = "bankcrm.views.page_not_found"
handler500 = "bankcrm.views.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("accounts/login/", views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/mfa/setup/", views.mfa_setup, name="mfa-setup"),
    path("accounts/mfa/verify/", views.mfa_verify, name="mfa-verify"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("health/", views.health, name="health"),
    path("notifications/", views.notifications, name="notifications"),
    # The apps' pages, named by module (as settings name the apps): core imports no app.
    path("customers/", include("customers.urls")),
    path("service/", include("service.urls")),
    path("compliance/", include("compliance.urls")),
    path("analytics/", include("analytics.urls")),
    path("marketing/", include("marketing.urls")),
    path("s/", include("service.public_urls")),
    path("o/", include("marketing.public_urls")),
    path("api/", include("customers.ingest.urls")),
    path("admin/", admin.site.urls),
]
