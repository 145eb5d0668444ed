"""Catalogue products for what existing holdings hold, and each holding linked to its product.

Before the catalogue a holding named its product only in `product_name`. The demo's holdings
(customers/demo.py ACCOUNT_KINDS) and the Berka load's (customers/berka.py) use the names
below; for each name that some holding carries, this creates the product (by code, if it is
not there yet) and sets `product` on the holdings of that name that have none. Names nobody
holds create nothing, so a bank's own database gets no demo products. Holdings under other
names stay unlinked (product NULL) until a person or an import links them.

The constants are copied here, not imported: a migration must do tomorrow what it does today.
"""

from datetime import date

from django.db import migrations

BANK = "本行"
WEALTH = "鑫源理财有限公司"
# code, name_zh, name_en, kind, issuer, risk, currency, min amount, term days, eligible
# kinds, min tier, holding names (product_name values, exact).
PRODUCTS = [
    ("DEP-CUR-01", "借记卡活期账户", "Debit card current account", "current_deposit", BANK, 1,
     "CNY", "0", None, "both", "mass", ["借记卡活期账户"]),
    ("DEP-CUR-02", "工资卡账户", "Payroll account", "current_deposit", BANK, 1, "CNY", "0",
     None, "individual", "mass", ["工资卡账户"]),
    ("DEP-TD-1Y", "一年期整存整取", "One-year fixed deposit", "time_deposit", BANK, 1, "CNY",
     "50", 365, "both", "mass", ["一年期整存整取"]),
    ("DEP-CD-3Y", "三年期大额存单", "Three-year certificate of deposit", "time_deposit", BANK, 1,
     "CNY", "200000", 1095, "both", "mass", ["三年期大额存单"]),
    ("DEP-TD-6M", "六个月定期", "Six-month time deposit", "time_deposit", BANK, 1, "CNY", "50",
     182, "both", "mass", ["六个月定期"]),
    ("LN-MORT", "个人住房贷款", "Residential mortgage", "loan", BANK, 1, "CNY", "0", None,
     "individual", "mass", ["个人住房贷款"]),
    ("LN-CONS", "个人消费贷款", "Personal consumer loan", "loan", BANK, 1, "CNY", "0", None,
     "individual", "mass", ["个人消费贷款"]),
    ("LN-BIZ", "经营性贷款", "Business loan", "loan", BANK, 1, "CNY", "0", None, "both", "mass",
     ["经营性贷款"]),
    ("CC-GOLD", "金卡信用卡", "Gold credit card", "credit_card", BANK, 1, "CNY", "0", None,
     "individual", "mass", ["金卡信用卡"]),
    ("CC-PLAT", "白金信用卡", "Platinum credit card", "credit_card", BANK, 1, "CNY", "0", None,
     "individual", "affluent", ["白金信用卡"]),
    ("CC-STD", "标准信用卡", "Standard credit card", "credit_card", BANK, 1, "CNY", "0", None,
     "individual", "mass", ["标准信用卡"]),
    ("WM-30D", "稳健理财30天", "Steady wealth product, 30 days", "wealth", WEALTH, 2, "CNY",
     "10000", 30, "both", "mass", ["稳健理财30天"]),
    ("WM-NAV-R2", "净值型理财R2", "NAV wealth product (R2)", "wealth", WEALTH, 2, "CNY", "10000",
     None, "both", "mass", ["净值型理财R2"]),
    ("FD-MMF", "货币基金", "Money market fund", "fund", "东方汇智基金管理有限公司", 1, "CNY", "1",
     None, "both", "mass", ["货币基金"]),
    ("INS-ANN", "年金保险", "Annuity insurance", "insurance", "安康人寿保险股份有限公司", 2, "CNY",
     "10000", 3650, "individual", "mass", ["年金保险"]),
    # The Berka load (Czech bank, 1993-1998): CZK accounts, loans and cards.
    ("BK-CA", "活期账户（捷克）", "Current account (CZK)", "current_deposit", "Berka", 1, "CZK",
     "0", None, "both", "mass",
     ["Current account (Poplatek Mesicne)", "Current account (Poplatek Tydne)",
      "Current account (Poplatek Po Obratu)"]),
    *[(f"BK-LOAN-{m}", f"{m}个月贷款（捷克）", f"Loan {m} months (CZK)", "loan", "Berka", 1,
       "CZK", "0", m * 30, "both", "mass", [f"Loan {m} months"]) for m in (12, 24, 36, 48, 60)],
    *[(f"BK-CARD-{t.upper()}", f"{zh}（捷克）", f"{t} card (CZK)", "credit_card", "Berka", 1,
       "CZK", "0", None, "individual", "mass", [f"{t} card"])
      for t, zh in (("Junior", "青年卡"), ("Classic", "经典卡"), ("Gold", "金卡"))],
]  # fmt: skip


def link_holdings(apps, schema_editor):
    Account = apps.get_model("customers", "Account")
    Product = apps.get_model("customers", "Product")
    # The audit trail's data changes name this migration as the writer.
    schema_editor.execute(
        "SELECT set_config('bankcrm.actor_label', 'migration:customers.0015', true)"
    )
    held = set(
        Account.objects.filter(product__isnull=True)
        .values_list("product_name", flat=True)
        .distinct()
    )
    for (code, name_zh, name_en, kind, issuer, risk, currency, minimum, term, kinds, tier,
         names) in PRODUCTS:  # fmt: skip
        if not held.intersection(names):
            continue
        product, _created = Product.objects.get_or_create(
            code=code,
            defaults={
                "name_zh": name_zh, "name_en": name_en, "kind": kind, "issuer": issuer,
                "risk_level": risk, "currency": currency, "min_amount": minimum,
                "term_days": term, "eligible_kinds": kinds, "min_tier": tier,
                "status": "on_sale", "sale_starts": date(2020, 1, 1),
            },
        )  # fmt: skip
        Account.objects.filter(product__isnull=True, product_name__in=names).update(product=product)


def unlink_holdings(apps, schema_editor):
    Account = apps.get_model("customers", "Account")
    codes = [p[0] for p in PRODUCTS]
    Account.objects.filter(product__code__in=codes).update(product=None)


class Migration(migrations.Migration):
    dependencies = [("customers", "0014_risk_tolerance_c1_c5")]

    operations = [migrations.RunPython(link_holdings, unlink_holdings)]
