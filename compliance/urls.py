from django.urls import path

from compliance import views, views_suitability, views_warnings

app_name = "compliance"

urlpatterns = [
    path("audit/", views.audit_trail, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
    path("customers/<int:pk>/history/", views.customer_history, name="customer-history"),
    path(
        "customers/<int:pk>/history.csv",
        views.customer_history_export,
        name="customer-history-export",
    ),
    path("users/<int:pk>/activity/", views.user_activity, name="user-activity"),
    path("users/<int:pk>/activity.csv", views.user_activity_export, name="user-activity-export"),
    path("users/<int:pk>/freeze/", views.user_freeze, name="user-freeze"),
    path("users/<int:pk>/unfreeze/", views.user_unfreeze, name="user-unfreeze"),
    path("alerts/", views.alert_list, name="alerts"),
    path("alerts/<int:pk>/", views.alert_detail, name="alert-detail"),
    path("warnings/", views_warnings.warning_list, name="warnings"),
    path("warnings/<int:pk>/", views_warnings.warning_detail, name="warning-detail"),
    # Suitability: recording a sale from the 360 page; the compliance screen of checks.
    path("customers/<int:pk>/sales/new/", views_suitability.sale_create, name="sale-create"),
    path("suitability/", views_suitability.suitability_list, name="suitability"),
    path("suitability/export.csv", views_suitability.suitability_export, name="suitability-export"),
]
