"""Personal data found by names and values, masked in text; one pseudonym per customer."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import SHARED
from stdnum.cn import ric

from analysis import privacy
from analysis.config import DATA_DIR
from analysis.data import load_transactions, read_table

# --------------------------------------------------------------------------- by name


def test_personal_columns_by_name_in_english_and_chinese():
    names = [
        "E-mail", "phone_number", "First Name", "Postcode", "IBAN",  # English, as before
        "姓名", "手机号", "联系电话", "身份证号", "收货地址", "邮箱", "電話", "會員姓名",
    ]  # fmt: skip
    kept = ["customer_id", "会员ID", "下单时间", "商品名称", "Description", "name_of_product"]
    frame = pd.DataFrame({c: ["x"] for c in names + kept})
    found = privacy.personal_columns(frame, keep=["customer_id"])
    assert found == dict.fromkeys(names, "name")


# --------------------------------------------------------------------------- by values


def _valid_cn_ids(n: int, rng) -> list[str]:
    days = pd.date_range("1950-01-01", "2005-12-31").strftime("%Y%m%d")
    bodies = [f"110105{rng.choice(days)}{rng.integers(0, 1000):03d}" for _ in range(n)]
    return [b + ric.calc_check_digit(b + "0") for b in bodies]  # (it skips the last digit)


def _luhn(body: str) -> str:
    from stdnum import luhn

    return body + luhn.calc_check_digit(body)


def test_personal_columns_by_values_with_their_check_digits():
    rng = np.random.default_rng(3)
    n = 40
    ids = _valid_cn_ids(n, rng)
    cards = [_luhn(f"4{rng.integers(0, 10**14):014d}") for _ in range(n)]
    frame = pd.DataFrame(
        {
            "contact": [f"user{i}@example.com" for i in range(n)],
            "reach": [f"+44 20 7946 {i:04d}" if i % 2 else f"139{i:08d}" for i in range(n)],
            "mobile_int": np.array([13800000000 + i for i in range(n)], dtype="int64"),
            "doc": ids,
            "doc_bad_check": [i[:-1] + ("0" if i[-1] != "0" else "1") for i in ids],
            "pan": cards,
            "pan_bad_check": [c[:-1] + str((int(c[-1]) + 1) % 10) for c in cards],
            "bank": ["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000"] * (n // 2),
            "bank_bad": ["GB82 WEST 1234 5698 7654 33", "DE89370400440532013001"] * (n // 2),
            "note": ["mail a@b.com"] + ["fine"] * (n - 1),
            "some_emails": [f"u{i}@x.org" if i < 8 else "none" for i in range(n)],  # 20 %
        }
    )
    found = privacy.personal_columns(frame)
    assert found == {
        "contact": "values: 100% e-mail addresses",
        "reach": "values: 100% phone numbers",
        "mobile_int": "values: 100% phone numbers",
        "doc": "values: 100% Chinese national ids",
        "pan": "values: 100% card numbers",
        "bank": "values: 100% IBANs",
    }
    kept, note = privacy.drop_personal(frame)
    assert list(kept.columns) == [c for c in frame.columns if c not in found]
    assert note.startswith("contact (values: 100% e-mail addresses), reach (values: 100% phone")


def test_phone_forms_and_look_alikes():
    kinds = privacy._value_kinds(
        pd.Series(
            [
                "13812345678", "+86 138 1234 5678", "+44 20 7946 0958", "020 7946 0958",
                "555-123-4567", "0044 20 7946 0958",  # phones
                "2011-01-05", "2011-12-09 12:50:00", "536389", "C536389", "1511544070",
                "77183.60", "85123A", "978-3-16-148410-0", "250 260 350 460", "12431.0",
            ]
        )
    )  # fmt: skip
    assert [k if isinstance(k, str) else None for k in kinds] == ["phone numbers"] * 6 + [None] * 10


# --------------------------------------------------------------------------- real data


def _shared(path: str) -> pd.DataFrame:
    if not SHARED.exists():
        pytest.skip(f"shared reference data folder {SHARED} is absent")
    return read_table(SHARED / path)


@pytest.mark.slow
def test_ids_codes_amounts_and_dates_of_real_data_are_not_personal(cdnow_sample):
    frames = {
        "online_retail_sample": read_table(DATA_DIR / "online_retail_sample.csv"),
        "olist_orders": _shared("olist_sample/olist_orders_dataset.csv"),
        "olist_items": _shared("olist_sample/olist_order_items_dataset.csv"),
        "olist_payments": _shared("olist_sample/olist_order_payments_dataset.csv"),
        "olist_customers": _shared("olist_sample/olist_customers_dataset.csv"),
        "olist_reviews": _shared("olist_sample/olist_order_reviews_dataset.csv"),
        "olist_products": _shared("olist_sample/olist_products_dataset.csv"),
        "olist_leads": _shared("olist_leads/olist_marketing_qualified_leads_dataset.csv"),
        "taobao": pd.read_csv(SHARED / "taobao_user_behavior_sample.csv", header=None),
        "cdnow_sample": cdnow_sample.frame,
    }
    assert sum(len(f.columns) for f in frames.values()) == 8 + 8 + 7 + 5 + 5 + 7 + 9 + 4 + 5 + 6
    found = {name: privacy.personal_columns(f) for name, f in frames.items()}
    assert found == dict.fromkeys(frames, {})


@pytest.mark.slow
def test_the_full_online_retail_and_cdnow_logs_have_no_personal_column(cdnow):
    retail = read_table(DATA_DIR / "online_retail.parquet")
    assert len(retail) == 541_909
    assert privacy.personal_columns(retail) == {}
    assert privacy.personal_columns(cdnow.frame) == {}


def test_real_comments_keep_their_words():
    reviews = _shared("olist_sample/olist_order_reviews_dataset.csv")["review_comment_message"]
    text = reviews.dropna()
    masked = privacy.mask_text(text)
    assert len(text) == 1_656
    assert (masked != text).sum() == 0  # no e-mail or phone in these 1,656 comments
    nhs = _shared("nhs_feedback/v6framework_230831.csv")["FFT answer"].dropna()
    assert len(nhs) == 7_400 and (privacy.mask_text(nhs) != nhs).sum() == 0


# --------------------------------------------------------------------------- free text


def test_mask_text_masks_emails_and_phones_and_keeps_the_rest():
    texts = pd.Series(
        [
            "mail me at li.wei@example.com or 138 1234 5678",
            "我的手机13812345678，邮箱abc@qq.com谢谢",
            "call +44 20 7946 0958 before 2018-01-05 10 am",
            "order 25153582 was late, paid 1 250.00 on 12/03/2020",
            "on 2018-01-05 13812345678 called",
            "Fusor Lexmark E250 260 350 460, ISBN 978-3-16-148410-0",
            None,
        ]
    )
    assert privacy.mask_text(texts).tolist()[:6] == [
        "mail me at [email] or [phone]",
        "我的手机[phone]，邮箱[email]谢谢",
        "call [phone] before 2018-01-05 10 am",
        "order 25153582 was late, paid 1 250.00 on 12/03/2020",
        "on 2018-01-05 [phone] called",
        "Fusor Lexmark E250 260 350 460, ISBN 978-3-16-148410-0",
    ]
    assert privacy.mask_text(texts).isna().tolist() == [False] * 6 + [True]


# --------------------------------------------------------------------------- pseudonyms


def test_one_customer_has_one_pseudonym_in_every_table(monkeypatch):
    monkeypatch.setenv(privacy.KEY_ENV, "test-key-for-tables")
    tx = load_transactions("online_retail_sample")
    ids = tx.frame["customer_id"].drop_duplicates().head(5).tolist()  # strings, e.g. "12431"
    # a feedback table read from Parquet: ids as floats (gaps) and one with spaces
    feedback = pd.DataFrame(
        {
            "customer_id": [float(i) for i in ids[:3]] + [f" {ids[3]} ", None],
            "score": [9, 3, 10, 7, 8],
        }
    )
    shown_tx = privacy.display_ids(tx.frame, anonymize=True)
    shown_fb = privacy.display_ids(feedback, anonymize=True)
    by_id = dict(zip(tx.frame["customer_id"], shown_tx["customer_id"], strict=True))
    assert shown_fb["customer_id"].tolist()[:4] == [by_id[i] for i in ids[:4]]
    assert pd.isna(shown_fb["customer_id"].iloc[4])  # an anonymous answer stays anonymous
    assert len({by_id[i] for i in ids}) == 5  # different customers differ
    assert all(p.startswith("C-") and len(p) == 14 for p in by_id.values())
    # one id on its own (a profile page's title) and back from a shared report's pseudonym
    assert privacy.display_id(int(ids[0]), anonymize=True) == by_id[ids[0]]
    assert privacy.display_id(f"{ids[0]}.0", anonymize=False) == ids[0]
    assert privacy.find_customer(by_id[ids[2]], tx.frame["customer_id"]) == ids[2]
    assert privacy.find_customer(ids[2], tx.frame["customer_id"]) == ids[2]
    assert privacy.find_customer("C-000000000000", tx.frame["customer_id"]) is None
    # another key, other pseudonyms
    monkeypatch.setenv(privacy.KEY_ENV, "another-key")
    assert privacy.display_id(ids[0], anonymize=True) != by_id[ids[0]]


def test_feedback_comments_are_masked_on_load_and_phone_columns_dropped():
    from analysis.tables import clean_table

    raw = pd.DataFrame(
        {
            "response_date": ["2024-01-05", "2024-01-06", "2024-01-07", "2024-01-08"],
            "score": ["9", "2", "7", "8"],
            "comment": [
                "great, thanks",
                "call me on 138 1234 5678!",
                "write to a.b@example.org",
                None,
            ],
            "手机号": ["13812345678", "13912345678", "13712345678", "13612345678"],
        }
    )
    table = clean_table("feedback", raw)
    assert table.frame["comment"].tolist()[:3] == [
        "great, thanks",
        "call me on [phone]!",
        "write to [email]",
    ]
    assert pd.isna(table.frame["comment"].iloc[3])
    log = table.log.set_index("step")["note"]
    assert log["e-mails and phone numbers masked"] == "in 2 texts"
    assert log["personal-data columns removed"] == "手机号 (name)"
    assert raw["comment"].iloc[1] == "call me on 138 1234 5678!"  # the input is not modified
