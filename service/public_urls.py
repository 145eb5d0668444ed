"""Pages of the service desk for customers, outside the staff namespace: the survey link
sent after a ticket is closed."""

from django.urls import path

from service import views

urlpatterns = [path("<str:token>/", views.survey, name="survey")]
