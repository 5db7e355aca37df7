"""Chinese input and conventions: the cn8 RFM preset, ￥ amounts, Chinese dates, GBK files."""

from __future__ import annotations

import pandas as pd
import pytest

from analysis import segmentation as seg

CN8 = ["重要价值客户", "重要发展客户", "重要保持客户", "重要挽留客户"]
CN8 += [name.replace("重要", "一般") for name in CN8]


def _eight_customers():
    """One customer per (R, F, M) high/low combination; T = 400 days for all."""
    rows = {}
    for recent in (True, False):
        for frequent in (True, False):
            for big in (True, False):
                name = f"{'R' if recent else 'r'}{'F' if frequent else 'f'}{'M' if big else 'm'}"
                rows[name] = {
                    "T": 400.0,
                    "recency": 390.0 if recent else 300.0,  # 10 vs 100 days since the last buy
                    "purchase_days": 5 if frequent else 1,
                    "revenue": 1000.0 if big else 10.0,
                }
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("customer_id")


def test_cn8_preset_names_each_rfm_combination_as_chinese_crm_practice_does():
    rfm = seg.rfm_segments(_eight_customers(), "cn8")
    # 价值 = recent AND frequent; 保持 = frequent but NOT recent (a common snippet swaps them)
    expected = {
        "RFM": "重要价值客户",
        "RfM": "重要发展客户",
        "rFM": "重要保持客户",
        "rfM": "重要挽留客户",
        "RFm": "一般价值客户",
        "Rfm": "一般发展客户",
        "rFm": "一般保持客户",
        "rfm": "一般挽留客户",
    }
    assert rfm["segment"].astype(str).to_dict() == expected
    assert list(rfm["segment"].cat.categories) == CN8
    # scores: R 5/2, F 4/1, M 5/2 -> means 3.5, 2.5, 3.5 -> high = above the mean score
    assert rfm.attrs["segment_map"]["重要价值客户"] == "R4-5 F3-5 M4-5"
    assert rfm.attrs["segment_map"]["一般挽留客户"] == "R1-3 F1-2 M1-3"


def test_cn8_splits_at_the_mean_score_of_this_customer_base(retail_sample):
    from analysis.summary import customer_summary

    summary = customer_summary(retail_sample.frame, retail_sample.as_of, time_unit="D")
    rfm = seg.rfm_segments(summary, "cn8")
    names = rfm["segment"].astype(str)
    r_high, f_high, m_high = (rfm[f"{c}_score"] > rfm[f"{c}_score"].mean() for c in "rfm")
    assert (names.str.startswith("重要") == m_high).all()
    assert (names.str.endswith("价值客户") == (r_high & f_high)).all()
    assert (names.str.endswith("保持客户") == (~r_high & f_high)).all()
    assert len(rfm) == len(summary) == 293
    seg_table = seg.segment_map_table(rfm.attrs["segment_map"])
    assert seg_table["score cells"].sum() == 125


def test_unknown_preset_is_refused_with_the_choices():
    with pytest.raises(ValueError, match="cn8"):
        seg.rfm_segments(_eight_customers(), "cn9")


@pytest.mark.slow
def test_notebook_with_cn8_writes_the_eight_chinese_segments(tmp_path):
    from conftest import run_notebook

    metrics, error, out = run_notebook(
        "segmentation", tmp_path, data="online_retail_sample", segment_map="cn8"
    )
    assert error is None, error
    export = pd.read_csv(out / "segments.csv", dtype=str)
    assert set(export["segment"]) == set(CN8)
    assert len(export) == 293
    m = metrics["segmentation"] if "segmentation" in metrics else metrics
    assert set(m["segment_counts"]) == set(CN8) and sum(m["segment_counts"].values()) == 293


# --------------------------------------------------------------------------- Chinese input


def test_yuan_amounts_are_read_and_the_currency_shown_as_yuan():
    from analysis.data import detect_currency, parse_amounts

    text = pd.Series(["￥1,234.50", "1234.5元", "CNY 88", "¥12", "RMB 3,000", "人民币5.5元"])
    values, from_text = parse_amounts(text)
    assert values.tolist() == [1234.5, 1234.5, 88.0, 12.0, 3000.0, 5.5] and from_text == 6
    assert detect_currency(text) == "￥"
    assert detect_currency(pd.Series(["£3.20", "£1,000"])) == "£"
    assert detect_currency(pd.Series(["R$ 12,50"])) == "R$"
    assert detect_currency(pd.Series(["12.50", "3"])) == ""
    assert detect_currency(pd.Series([12.5, 3.0])) == ""


def test_chinese_dates_are_parsed():
    from analysis.data import parse_dates

    text = pd.Series(["2024年3月5日", "2024/3/5 14:22", "2024年12月25日 09:05", "2024-03-06"])
    dates, _ = parse_dates(text)
    assert dates.tolist() == [
        pd.Timestamp("2024-03-05"),
        pd.Timestamp("2024-03-05 14:22"),
        pd.Timestamp("2024-12-25 09:05"),
        pd.Timestamp("2024-03-06"),
    ]
    dates, _ = parse_dates(pd.Series(["2024/3/5 14:22", "2024/12/25 9:05"]))
    assert dates.tolist() == [pd.Timestamp("2024-03-05 14:22"), pd.Timestamp("2024-12-25 09:05")]


def test_currency_option_wins_over_the_amount_text():
    from analysis.data import clean_transactions

    raw = pd.DataFrame(
        {
            "customer_id": ["a", "b"],
            "order_date": ["2024年3月5日", "2024/3/6"],
            "amount": ["￥5", "6元"],
        }
    )
    assert clean_transactions(raw).currency == "￥"
    assert clean_transactions(raw, currency="CN¥").currency == "CN¥"


def test_gbk_shop_export_with_yuan_and_chinese_dates_validates(tmp_path, capsys):
    from analysis.cli import main
    from analysis.data import load_transactions

    # ¥ (U+00A5) has no GBK code; Chinese exports write the full-width ￥ (U+FFE5)
    rows = [
        ("A01", "2024年3月5日", "￥1,234.50"),
        ("A01", "2024/3/6 14:22", "1234.5元"),
        ("B02", "2024年3月5日 09:30", "CNY 88"),
        ("C03", "2024/3/7 8:05", "￥12"),
        ("C03", "2024年4月1日", "￥3,000"),
        ("D04", "2024/4/2 23:59", "99.9元"),
    ]
    path = tmp_path / "订单导出.csv"
    pd.DataFrame(rows, columns=["会员ID", "下单时间", "实付金额"]).to_csv(
        path, index=False, encoding="gbk"
    )
    columns = {"customer_id": "会员ID", "order_date": "下单时间", "amount": "实付金额"}
    args = ["validate", "--data", str(path)]
    for canonical, source in columns.items():
        args += ["--column", f"{canonical}={source}"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "6 rows read, 6 clean" in out and "revenue 5,668.90" in out
    assert "currency ￥" in out
    tx = load_transactions(str(path), columns=columns)
    assert tx.currency == "￥" and tx.frame["amount"].sum() == pytest.approx(5668.9)
    assert tx.frame["order_date"].max() == pd.Timestamp("2024-04-02 23:59")
