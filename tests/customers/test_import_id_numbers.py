"""Item 12 of issue 16: a valid ID number (region 310115, born before 1993) was refused with
the check-digit message. Each refusal now names the rule that refused it; a region code newer
than its holder is accepted."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from stdnum.cn import ric

from customers import imports
from customers.models import Customer, ImportBatch

pytestmark = pytest.mark.django_db


def test_an_id_number_refusal_names_the_rule_that_refused_it(login, branch_manager, branch):
    """310115 (Pudong New Area, a code from 1992) with a birth year before 1993 was refused
    with the check-digit message. python-stdnum wants a region code in use in the birth year;
    the code is the issuing office's, which may be newer than its holder. Such a number is
    accepted; each refusal says its rule. (310199, a known province and unknown county, made
    python-stdnum raise KeyError, which stopped the whole check.)"""
    importer = login(branch_manager)

    pudong_1985 = "310115198507230024"
    assert ric.calc_check_digit(pudong_1985) == pudong_1985[-1]  # a correct check digit
    content = (
        "cif,name,national_id,branch_code\n"
        f"P1,浦东客户,{pudong_1985},SH001\n"
        "P2,校验错,310115198507230025,SH001\n"
        "P3,无此地区,310199198001010013,SH001\n"  # a known province, no such county
        "P4,日期错,110101198013010018,SH001\n"
        "P5,位数错,1101011980,SH001\n"
        "P6,撤销地区,110103201501010014,SH001\n"  # 崇文区, merged away in 2010
    )
    response = importer.post(
        "/customers/imports/",
        {"kind": "customers", "file": SimpleUploadedFile("ids.csv", content.encode())},
    )
    assert response.status_code == 302
    batch = ImportBatch.objects.get()
    imports.validate(batch.pk)
    batch.refresh_from_db()
    assert batch.valid_rows == 1
    messages = {e["line"]: e["message"] for e in batch.errors}
    assert messages == {
        3: "校验码（最后一位）与前 17 位不符。",
        4: "证件号码的地区码（前六位）不是已知的行政区划代码。",
        5: "证件号码第 7–14 位不是有效日期（YYYYMMDD）。",
        6: "居民身份证号码应为 18 位，此处为 10 位。",
        7: "证件号码的地区码（前六位）在号码所示出生年份之前已撤销。",
    }
    importer.post(f"/customers/imports/{batch.pk}/commit/")
    imports.commit(batch.pk)
    assert Customer.objects.get(cif="P1").birth_date.isoformat() == "1985-07-23"
