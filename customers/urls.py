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
]
