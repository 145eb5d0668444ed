"""The project's URLs plus one minimal view behind the same middleware and login: the
baseline the customer pages are compared with."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.urls import path

from bankcrm.urls import urlpatterns as project_urlpatterns


@login_required
def minimal(request):
    return HttpResponse("ok", content_type="text/plain")


urlpatterns = [path("bench/minimal/", minimal), *project_urlpatterns]
