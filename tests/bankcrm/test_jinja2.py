"""The Jinja2 environment of the project's pages (bankcrm/jinja2.py)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.template import defaultfilters, engines
from django.utils import translation
from django.utils.timezone import template_localtime

from bankcrm import jinja2
from bankcrm.management.commands.makemessages import jinja2_to_python
from customers.models import Customer


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


def test_amounts_are_grouped_by_thousands_in_every_language():
    """Issue 16, item 13: Django's zh-Hans format has no grouping (额度 100000)."""
    for language in ("zh-hans", "en"):
        with translation.override(language):
            assert render("{{ n|floatformat(0)|intcomma }}", n=Decimal("100000")) == "100,000"
            assert render("{{ n|intcomma }}", n=1234567) == "1,234,567"
            assert render("{{ n|intcomma }}", n=Decimal("-52000.50")) == "-52,000.50"


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


_MOMENTS = [datetime(2026, 1, 1, 16, 30, tzinfo=UTC), datetime(2026, 6, 30, 23, 59, 59, tzinfo=UTC)]


@pytest.mark.parametrize(
    ("value", "fmt"),
    [(m, f) for m in _MOMENTS for f in ("Y-m-d", "Y-m-d H:i", "H:i")]
    + [(date(2026, 2, 28), "Y-m-d"), (None, "Y-m-d"), (None, "Y-m-d H:i")],
)
def test_date_fast_paths_print_what_djangos_filter_prints(value, fmt):
    expected = defaultfilters.date(template_localtime(value), fmt)
    assert jinja2.date(value, fmt) == expected


@pytest.mark.parametrize("language", ["zh-hans", "en"])
def test_display_prints_the_choice_label_like_get_display(language):
    customer = Customer(tier="private", lifecycle="dormant", risk_level="growth")
    with translation.override(language):
        for field in ("tier", "lifecycle", "risk_level", "kind"):
            assert render(f'{{{{ c|display("{field}") }}}}', c=customer) == (
                getattr(customer, f"get_{field}_display")()
            )
    # A value outside the choices prints as stored, None as nothing.
    assert render('{{ c|display("tier") }}', c=Customer(tier="legacy")) == "legacy"
    assert render('{{ c|display("risk_level") }}', c=Customer(risk_level="")) == ""
