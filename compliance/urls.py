from django.urls import path

from compliance import views

app_name = "compliance"

urlpatterns = [
    path("audit/", views.audit_trail, name="audit"),
    path("audit/export.csv", views.audit_export, name="audit-export"),
]
