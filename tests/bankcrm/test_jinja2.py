"""The Jinja2 environment of the project's pages (bankcrm/jinja2.py)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from django.template import engines
from django.utils import translation

from bankcrm import jinja2
from bankcrm.management.commands.makemessages import jinja2_to_python


def render(source: str, **context) -> str:
    return engines["jinja2"].from_string(source).render(context)


def test_values_are_escaped_and_none_prints_nothing():
    assert render("{{ a }}|{{ b }}", a="<script>", b=None) == "&lt;script&gt;|"


def test_an_uncalled_method_is_an_error_not_text():
    with pytest.raises(TypeError, match="uncalled method"):
        render("{{ d.items }}", d={})
    assert render("{{ d.items()|list }}", d={}) == "[]"


def test_translations_and_their_variables_are_escaped():
    with translation.override("zh-hans"):
        assert render('{{ _("Customers") }}') == "客户"
        html = render('{{ _("Branch overview: %(branch)s", branch=b) }}', b="<b>")
        assert html == "机构概览：&lt;b&gt;"
        html = render(
            '{{ ngettext("%(days)s day overdue", "%(days)s days overdue", n, days=n) }}', n=3
        )
        assert html == "逾期 3 天"
    with translation.override("en"):
        assert render(
            '{{ ngettext("%(days)s day overdue", "%(days)s days overdue", 1, days=1) }}'
        ) == ("1 day overdue")


def test_django_filters_keep_django_semantics():
    # date: in Beijing time, like Django's filter.
    assert render('{{ t|date("Y-m-d H:i") }}', t=datetime(2026, 1, 1, 16, 30, tzinfo=UTC)) == (
        "2026-01-02 00:30"
    )
    assert render("{{ n|floatformat(2)|intcomma }}", n=Decimal("1234567.5")) == "1,234,567.50"
    assert render("{{ s|linebreaksbr }}", s="a<b\nc") == "a&lt;b<br>c"
    assert render('{{ url("customers:detail", 7) }}') == "/customers/7/"


def test_once_per_language_renders_the_body_once_per_language(settings):
    settings.DEBUG = False
    jinja2._FRAGMENTS.clear()
    calls = []
    source = '{% call once_per_language("test") %}{{ f() }}{{ _("Customers") }}{% endcall %}'

    def f():
        calls.append(1)
        return ""

    with translation.override("zh-hans"):
        assert render(source, f=f) == "客户"
        assert render(source, f=f) == "客户"
    with translation.override("en"):
        assert render(source, f=f) == "Customers"
    assert len(calls) == 2
    jinja2._FRAGMENTS.clear()


def test_makemessages_reads_every_gettext_call_of_a_template():
    source = '{{ _("One") }}\n<p>{{ _("Two %(x)s", x=1) }} {{ ngettext("a", "b", n, n=n) }}</p>'
    assert jinja2_to_python(source).splitlines() == [
        "gettext('One'); ",
        "gettext('Two %(x)s', None); ngettext('a', 'b', None, None); ",
    ]
