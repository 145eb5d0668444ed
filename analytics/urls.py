from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("models/", views.model_list, name="models"),
    path("models/<int:pk>/", views.model_detail, name="model-detail"),
    path("models/<int:pk>/activate/", views.model_activate, name="model-activate"),
]

# Dashboards and reports (issue 21): analytics/views_dashboards.py.
from analytics import views_dashboards  # noqa: E402

urlpatterns += [
    path("dashboard/", views_dashboards.dashboard, name="dashboard"),
    path("reports/", views_dashboards.report_list, name="reports"),
    path("reports/<int:pk>/request/", views_dashboards.report_request, name="report-request"),
    path(
        "reports/runs/<int:pk>/download/", views_dashboards.report_download, name="report-download"
    ),
]
# Negative satisfaction comments' follow-ups (issue 20): analytics/views.py.
urlpatterns += [
    path("follow-ups/<int:pk>/done/", views.follow_up_done, name="follow-up-done"),
]
