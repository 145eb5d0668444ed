from django.urls import path

from customers import views

app_name = "customers"

urlpatterns = [
    path("", views.customer_list, name="list"),
    path("export/", views.customer_export, name="export"),
    path("search/", views.customer_search, name="search"),
    path("<int:pk>/", views.customer_detail, name="detail"),
    path("<int:pk>/transactions/", views.customer_transactions, name="transactions"),
    path("<int:pk>/reveal/", views.customer_reveal, name="reveal"),
    path("<int:pk>/interactions/", views.interaction_create, name="interaction-create"),
    path("<int:pk>/consents/", views.consent_create, name="consent-create"),
    path("<int:pk>/contact/", views.contact_edit, name="contact-edit"),
    path("<int:pk>/risk/", views.risk_assess, name="risk-assess"),
    path("<int:pk>/delegations/", views.delegation_create, name="delegation-create"),
    path(
        "<int:pk>/delegations/<int:delegation_pk>/revoke/",
        views.delegation_revoke,
        name="delegation-revoke",
    ),
    path("imports/", views.import_list, name="import-list"),
    path("imports/<int:pk>/", views.import_detail, name="import-detail"),
    path("imports/<int:pk>/commit/", views.import_commit, name="import-commit"),
    path("imports/<int:pk>/discard/", views.import_discard, name="import-discard"),
    path("imports/template/<str:kind>.csv", views.import_template, name="import-template"),
    path("products/", views.product_list, name="product-list"),
    path("products/<int:pk>/", views.product_detail, name="product-detail"),
    path(
        "products/<int:pk>/documents/<int:document_pk>/",
        views.product_document_download,
        name="product-document",
    ),
]
