"""Pages of marketing for customers, outside the staff namespace: the opt-out link every
message carries."""

from django.urls import path

from marketing import views

app_name = "marketing_public"
urlpatterns = [path("<str:token>/", views.opt_out, name="opt-out")]
