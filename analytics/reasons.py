"""A score's reasons in plain words, in the reader's language.

The nightly run keeps, for each score, the three features that pushed it up most
(LightGBM's contributions, `pred_contrib=True`) with their values. They are put in words
when shown, so the same score reads in Chinese for one user and in English for another:
"no salary credit for 3 months", "2 complaints this quarter". A feature without a phrase
(a model trained on a bank's own file) reads as "<column>: <value>".
"""

import math

from django.utils.translation import gettext as _
from django.utils.translation import ngettext, ngettext_lazy

from analytics.features import FEATURE_LABELS


def _n(value) -> int:
    return round(value)


def _percent_change(log_ratio: float) -> int:
    return _n(abs(math.expm1(log_ratio)) * 100)


def _salary_gap(v):
    if math.isnan(v) or v >= 365:
        return _("no salary credit in the last year")
    months = _n(v // 30)
    if months >= 1:
        return ngettext(
            "no salary credit for %(n)d month", "no salary credit for %(n)d months", months
        ) % {"n": months}
    return _("salary credited %(n)d days ago") % {"n": _n(v)}


def _days_since_tx(v):
    if math.isnan(v):
        return _("no transaction in the last year")
    return ngettext("no transaction for %(n)d day", "no transaction for %(n)d days", _n(v)) % {
        "n": _n(v)
    }


def _days_since_contact(v):
    if math.isnan(v):
        return _("no contact with the bank in the last year")
    return ngettext(
        "last contact with the bank %(n)d day ago",
        "last contact with the bank %(n)d days ago",
        _n(v),
    ) % {"n": _n(v)}


def _trend(what_up, what_down):
    def phrase(v):
        if math.isnan(v):
            return None
        text = what_up if v >= 0 else what_down
        return text() % {"p": _percent_change(v)}

    return phrase


def _count(text):
    """`text` is ngettext_lazy(singular, plural, "n"): the plural follows the value."""
    return lambda v: text % {"n": _n(v)}


PHRASES = {
    "days_since_salary": _salary_gap,
    "salary_90": lambda v: (
        _("no salary credit in 3 months")
        if v == 0
        else ngettext("%(n)d salary credit in 3 months", "%(n)d salary credits in 3 months", _n(v))
        % {"n": _n(v)}
    ),
    "complaints_90": _count(
        ngettext_lazy("%(n)d complaint this quarter", "%(n)d complaints this quarter", "n")
    ),
    "complaints_365": _count(
        ngettext_lazy("%(n)d complaint this year", "%(n)d complaints this year", "n")
    ),
    "tickets_90": _count(
        ngettext_lazy(
            "%(n)d service ticket this quarter", "%(n)d service tickets this quarter", "n"
        )
    ),
    "open_tickets": _count(
        ngettext_lazy("%(n)d ticket still open", "%(n)d tickets still open", "n")
    ),
    "csat_low": _count(
        ngettext_lazy(
            "%(n)d dissatisfied survey answer this year",
            "%(n)d dissatisfied survey answers this year",
            "n",
        )
    ),
    "csat_avg": lambda v: (
        None if math.isnan(v) else _("average satisfaction %(x).1f of 5") % {"x": v}
    ),
    "days_since_tx": _days_since_tx,
    "days_since_contact": _days_since_contact,
    "tx_30": _count(
        ngettext_lazy("%(n)d transaction in 30 days", "%(n)d transactions in 30 days", "n")
    ),
    "tx_90": _count(
        ngettext_lazy("%(n)d transaction in 3 months", "%(n)d transactions in 3 months", "n")
    ),
    "tx_trend": _trend(
        lambda: _("transactions up %(p)d%% on the quarter before"),
        lambda: _("transactions down %(p)d%% on the quarter before"),
    ),
    "aum_trend": _trend(
        lambda: _("assets up %(p)d%% in 3 months"), lambda: _("assets down %(p)d%% in 3 months")
    ),
    "aum": lambda v: _("assets of ¥%(x)s") % {"x": f"{v:,.0f}"},
    "aum_adb90": lambda v: _("average assets of ¥%(x)s over 3 months") % {"x": f"{v:,.0f}"},
    "products": _count(ngettext_lazy("%(n)d product held", "%(n)d products held", "n")),
    "product_kinds": _count(
        ngettext_lazy("%(n)d kind of product held", "%(n)d kinds of product held", "n")
    ),
    "has_wealth": lambda v: _("no wealth product") if v == 0 else _("holds wealth products"),
    "has_time_deposit": lambda v: _("no time deposit") if v == 0 else _("holds time deposits"),
    "has_loan": lambda v: _("no loan with the bank") if v == 0 else _("has a loan with the bank"),
    "has_card": lambda v: _("no card") if v == 0 else _("holds a card"),
    "has_current": lambda v: _("no current account") if v == 0 else _("holds a current account"),
    "autopay_90": lambda v: (
        _("no automatic payments in 3 months")
        if v == 0
        else _count(
            ngettext_lazy(
                "%(n)d automatic payment in 3 months", "%(n)d automatic payments in 3 months", "n"
            )
        )(v)
    ),
    "digital_share": lambda v: (
        _("no transactions in the app or online")
        if math.isnan(v) or v == 0
        else _("%(p)d%% of transactions in the app or online") % {"p": _n(v * 100)}
    ),
    "branch_share": lambda v: (
        None if math.isnan(v) else _("%(p)d%% of transactions at a branch") % {"p": _n(v * 100)}
    ),
    "interactions_90": lambda v: (
        _("no contact with the bank in 3 months")
        if v == 0
        else _count(
            ngettext_lazy(
                "%(n)d contact with the bank in 3 months",
                "%(n)d contacts with the bank in 3 months",
                "n",
            )
        )(v)
    ),
    "tenure_days": lambda v: (
        None
        if math.isnan(v)
        else ngettext("a customer for %(n)d year", "a customer for %(n)d years", _n(v // 365))
        % {"n": _n(v // 365)}
        if v >= 365
        else _("a customer for less than a year")
    ),
    "age": lambda v: None if math.isnan(v) else _("aged %(n)d") % {"n": _n(v)},
}


def phrase(feature: str, value) -> str:
    value = float("nan") if value is None else float(value)
    maker = PHRASES.get(feature)
    text = maker(value) if maker else None
    if text:
        return text
    label = FEATURE_LABELS.get(feature, feature)
    shown = _("unknown") if math.isnan(value) else f"{value:g}"
    return _("%(label)s: %(value)s") % {"label": label, "value": shown}


def render(reasons: list[dict]) -> list[str]:
    """The stored reasons of a score (analytics.models.CustomerScore.reasons) in words."""
    return [phrase(r["feature"], r.get("value")) for r in reasons]
