"""The integration API's routes (django-ninja), included by the project's URLs."""

from django.urls import path

from customers.ingest.api import api

urlpatterns = [path("", api.urls)]
