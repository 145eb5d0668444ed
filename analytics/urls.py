from django.urls import path

from analytics import views

app_name = "analytics"

urlpatterns = [
    path("models/", views.model_list, name="models"),
    path("models/<int:pk>/", views.model_detail, name="model-detail"),
    path("models/<int:pk>/activate/", views.model_activate, name="model-activate"),
]

urlpatterns += [
    path("follow-ups/<int:pk>/done/", views.follow_up_done, name="follow-up-done"),
]
