from django.db import migrations

# Consent history is evidence under PIPL: rows are added, never changed or removed.
# (TRUNCATE stays possible for test-database flushes; the application's role is denied it
# by privileges, not by this trigger.)
CONSENT_APPEND_ONLY = """
CREATE FUNCTION customers_consent_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'consent history is append-only: % is not allowed', TG_OP
        USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER customers_consent_append_only
    BEFORE UPDATE OR DELETE ON customers_consent
    FOR EACH ROW EXECUTE FUNCTION customers_consent_append_only();
"""
DROP_CONSENT_APPEND_ONLY = """
DROP TRIGGER IF EXISTS customers_consent_append_only ON customers_consent;
DROP FUNCTION IF EXISTS customers_consent_append_only();
"""

QUESTIONS = [
    {
        "key": "age",
        "text": "您的年龄段？",
        "text_en": "Your age group?",
        "options": [
            {"label": "65 岁以上", "label_en": "Over 65", "score": 1},
            {"label": "51–65 岁", "label_en": "51–65", "score": 2},
            {"label": "31–50 岁", "label_en": "31–50", "score": 4},
            {"label": "18–30 岁", "label_en": "18–30", "score": 3},
        ],
    },
    {
        "key": "experience",
        "text": "您的投资经验？",
        "text_en": "Your investment experience?",
        "options": [
            {"label": "无，仅有存款", "label_en": "None, deposits only", "score": 1},
            {"label": "银行理财、国债", "label_en": "Bank wealth products, bonds", "score": 2},
            {"label": "基金、股票 3 年以内", "label_en": "Funds or shares, < 3 years", "score": 3},
            {
                "label": "股票、衍生品 3 年以上",
                "label_en": "Shares or derivatives, 3+ years",
                "score": 4,
            },
        ],
    },
    {
        "key": "horizon",
        "text": "计划投资期限？",
        "text_en": "Planned investment horizon?",
        "options": [
            {"label": "1 年以内", "label_en": "Under 1 year", "score": 1},
            {"label": "1–3 年", "label_en": "1–3 years", "score": 2},
            {"label": "3–5 年", "label_en": "3–5 years", "score": 3},
            {"label": "5 年以上", "label_en": "Over 5 years", "score": 4},
        ],
    },
    {
        "key": "loss",
        "text": "可承受的最大本金亏损？",
        "text_en": "Largest loss of principal you can bear?",
        "options": [
            {"label": "不能亏损", "label_en": "None", "score": 1},
            {"label": "10% 以内", "label_en": "Up to 10%", "score": 2},
            {"label": "10%–30%", "label_en": "10%–30%", "score": 3},
            {"label": "30% 以上", "label_en": "More than 30%", "score": 4},
        ],
    },
    {
        "key": "share",
        "text": "拟投资金额占家庭金融资产的比例？",
        "text_en": "Share of household financial assets to invest?",
        "options": [
            {"label": "50% 以上", "label_en": "Over 50%", "score": 1},
            {"label": "30%–50%", "label_en": "30%–50%", "score": 2},
            {"label": "10%–30%", "label_en": "10%–30%", "score": 3},
            {"label": "10% 以下", "label_en": "Under 10%", "score": 4},
        ],
    },
]
# Minimum total score for each level, highest first.
BANDS = [[17, "aggressive"], [13, "growth"], [9, "balanced"], [0, "conservative"]]


def create_questionnaire(apps, schema_editor):
    apps.get_model("customers", "RiskQuestionnaire").objects.get_or_create(
        version=1,
        defaults={"questions": QUESTIONS, "bands": BANDS, "is_active": True, "validity_days": 365},
    )


class Migration(migrations.Migration):
    dependencies = [("customers", "0002_customer_360_model")]

    operations = [
        migrations.RunSQL(CONSENT_APPEND_ONLY, DROP_CONSENT_APPEND_ONLY),
        migrations.RunPython(create_questionnaire, migrations.RunPython.noop),
    ]
