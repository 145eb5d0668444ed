"""The project's URLs plus two baselines behind the same middleware and login: a minimal
view (plain text) and a minimal page (the base layout with one paragraph), which the
customer pages are compared with."""

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.template import engines
from django.urls import path

from bankcrm.urls import urlpatterns as project_urlpatterns

PAGE = engines["jinja2"].from_string(
    '{% extends "base.html" %}{% block content %}<p>ok</p>{% endblock %}'
)


@login_required
def minimal(request):
    return HttpResponse("ok", content_type="text/plain")


@login_required
def minimal_page(request):
    return HttpResponse(PAGE.render({}, request))


urlpatterns = [
    path("bench/minimal/", minimal),
    path("bench/page/", minimal_page),
    *project_urlpatterns,
]
