"""The Jinja2 environment for the project's own templates (templates/).

Jinja2 compiles a template to Python code, so a page renders several times faster than with
Django's template language: on the customer list and 360 pages rendering was most of the
request's time. Django admin and form widgets keep Django templates.

What the templates have beside Jinja2's built-ins:
- `_()`, `gettext()`, `ngettext()` (translated with Django's catalogues; `makemessages`
  extracts them, see bankcrm/management/commands/makemessages.py), `url()`, `static()`;
- Django's `date`, `floatformat`, `intcomma`, `linebreaksbr`, `timesince`, `timeuntil` and
  `add` filters, with Django's semantics (local time, number formatting);
- the Django backend's `request`, `csrf_input`, `csrf_token` and the context processors.

A method left uncalled (Django templates call them, Jinja2 does not) raises instead of
being silently wrong: `{{ form.x.value }}` would print "<bound method …>" (`finalize`
checks every printed value), and `{% if form.x.value %}` is always true, since a method
is (a list filter ticked on every page, issue 16). Attribute lookups in templates give
methods wrapped in `UncalledMethod`, which calls through but refuses to be tested,
compared, iterated or printed.
"""

import functools
import inspect
from datetime import date as datetime_date
from datetime import datetime

from django.conf import settings
from django.contrib.humanize.templatetags import humanize
from django.template import defaultfilters
from django.templatetags.static import static
from django.urls import reverse
from django.utils.formats import localize
from django.utils.hashable import make_hashable
from django.utils.html import escape
from django.utils.safestring import mark_safe
from django.utils.timezone import template_localtime
from django.utils.translation import get_language, gettext, ngettext, npgettext, pgettext
from jinja2 import Environment, Undefined
from markupsafe import Markup

GETTEXT_FUNCTIONS = ("_", "gettext", "ngettext", "pgettext", "npgettext")


def url(name: str, *args, **kwargs) -> str:
    return reverse(name, args=args or None, kwargs=kwargs or None)


def intcomma(value) -> str:
    """1,234,567.00 in every language. Django's zh-Hans number format has no grouping, so
    its intcomma wrote 100000 in Chinese pages (and 52,000.50, grouped by another path)."""
    return humanize.intcomma(value, use_l10n=False)


def linebreaksbr(value) -> str:
    return mark_safe(escape(value).replace("\n", "<br>"))  # noqa: S308 - escaped first


_FRAGMENTS: dict[tuple[str, str], Markup] = {}


def once_per_language(name: str, caller) -> Markup:
    """`{% call once_per_language("name") %}…{% endcall %}`: the body is rendered once per
    language and process, then reused. For markup that depends only on the code and the
    language, such as the widgets of an empty form (Django's widget templates are slow)."""
    key = (name, get_language())
    html = _FRAGMENTS.get(key)
    if html is None or settings.DEBUG:
        html = _FRAGMENTS[key] = caller()  # Markup: the body was autoescaped
    return html


def date(value, arg=None) -> str:
    """Django's `date` filter, in the current time zone as in Django templates; the two
    formats the pages use are written directly (Django's formatter is slow in lists)."""
    if arg == "Y-m-d" and isinstance(value, datetime_date) and not isinstance(value, datetime):
        return value.isoformat()
    value = template_localtime(value)
    if arg == "Y-m-d H:i" and isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    return defaultfilters.date(value, arg)


@functools.cache
def _labels(model, field_name: str, language: str) -> dict:
    field = model._meta.get_field(field_name)
    return {make_hashable(value): str(label) for value, label in field.flatchoices}


def display(obj, field_name: str) -> str:
    """`{{ customer|display("tier") }}`: the label of a choice field's value, as
    `get_tier_display()` gives it, from a table built once per field and language (Django
    rebuilds and translates the whole choice list at every call)."""
    value = getattr(obj, field_name)
    return _labels(type(obj), field_name, get_language()).get(make_hashable(value), value)


class UncalledMethod:
    """A method read by a template (`obj.method`): calling it calls the method; using it as
    a value raises, naming the method, so a forgotten `()` fails the first test that
    renders the line instead of quietly reading as true."""

    __slots__ = ("method",)

    def __init__(self, method):
        self.method = method

    def __call__(self, *args, **kwargs):
        return self.method(*args, **kwargs)

    def _misused(self, *args):
        raise TypeError(f"template uses a method without calling it: {self.method!r}")

    __bool__ = __len__ = __iter__ = __contains__ = __str__ = __html__ = _misused
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _misused
    __hash__ = None  # unhashable, like anything that refuses __eq__

    def __repr__(self) -> str:
        return f"<uncalled {self.method!r}>"


class ProjectEnvironment(Environment):
    def getattr(self, obj, attribute):
        value = super().getattr(obj, attribute)
        if inspect.ismethod(value) or (
            inspect.isbuiltin(value) and not inspect.ismodule(getattr(value, "__self__", None))
        ):
            return UncalledMethod(value)
        return value


def _finalize(value):
    """Every printed value: None as nothing, datetimes in local time (as Django templates
    do), and an uncalled method as an error."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return localize(template_localtime(value))
    if isinstance(value, UncalledMethod) or (
        callable(value) and not isinstance(value, (Undefined, type))
    ):
        raise TypeError(f"template prints an uncalled method: {value!r}")
    return value


def environment(**options) -> Environment:
    options.pop("autoescape", None)
    env = ProjectEnvironment(
        autoescape=True, extensions=["jinja2.ext.i18n"], finalize=_finalize, **options
    )
    env.install_gettext_callables(gettext, ngettext, newstyle=True, pgettext=pgettext,
                                  npgettext=npgettext)  # fmt: skip
    env.globals.update(url=url, static=static, once_per_language=once_per_language)
    env.filters.update(
        add=defaultfilters.add,
        date=date,
        display=display,
        floatformat=defaultfilters.floatformat,
        intcomma=intcomma,
        linebreaksbr=linebreaksbr,
        timesince=defaultfilters.timesince_filter,
        timeuntil=defaultfilters.timeuntil_filter,
    )
    return env
