"""The input contract: loading, column mapping, cleaning log, errors."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from analysis.data import (
    CANONICAL,
    DataError,
    detect_encoding,
    load_transactions,
    parse_amounts,
    parse_column_map,
    parse_dates,
    read_prepared,
    read_table,
    request_key,
    save_prepared,
)


def _log(tx) -> dict[str, int]:
    return dict(zip(tx.log["step"], tx.log["rows"], strict=True))


def test_online_retail_cleaning_log_counts_the_known_dirt():
    tx = load_transactions("online_retail")
    log = _log(tx)
    assert tx.rows_in == 541_909
    assert log["exact duplicate rows"] == -5_268  # the shared data README's count
    assert log["missing customer id"] == -135_037  # 135,080 minus 43 duplicated
    assert log["purchases reversed by a cancellation"] == -2_867
    assert log["cancellations and returns"] == -8_872
    assert log["non-product lines"] == -1_482
    assert tx.rows_clean == 388_344
    assert tx.frame["customer_id"].nunique() == 4_324
    # the 80,995-unit order of 2011-12-09, cancelled minutes later, is not revenue
    assert tx.frame["quantity"].max() < 80_995
    assert tx.as_of == pd.Timestamp("2011-12-09")
    assert tx.currency == "£"
    assert tx.has("product_id") and tx.has("region") and not tx.has("channel")
    # amount derived as quantity x unit price; nothing non-positive survives
    assert (tx.frame["amount"] > 0).all()
    assert np.allclose(tx.frame["amount"], tx.frame["quantity"] * tx.frame["unit_price"])


def test_cdnow_builtins_keep_every_purchase():
    full = load_transactions("cdnow")
    assert full.rows_clean == 69_659
    assert full.frame["customer_id"].nunique() == 23_570
    assert full.frame["order_date"].min() == pd.Timestamp("1997-01-01")
    assert full.as_of == pd.Timestamp("1998-06-30")
    sample = load_transactions("cdnow_sample")
    assert sample.rows_clean == 6_919
    assert sample.frame["customer_id"].nunique() == 2_357


def test_foreign_column_names_are_mapped(tmp_path):
    path = tmp_path / "export.csv"
    path.write_text(
        "Kunde;Datum;Umsatz;Land\n"
        "A1;2024-01-05;10.50;DE\n"
        "A1;2024-02-05;20.00;DE\n"
        "B2;2024-01-07;5.00;AT\n"
    )
    columns = {"customer_id": "Kunde", "order_date": "Datum", "amount": "Umsatz", "region": "Land"}
    tx = load_transactions(path, columns)
    assert list(tx.frame.columns[:3]) == ["customer_id", "order_date", "amount"]
    assert tx.frame["amount"].sum() == pytest.approx(35.5)
    assert tx.frame["order_id"].nunique() == 3  # no order id: each row is an order
    assert set(tx.frame["region"]) == {"DE", "AT"}
    assert tx.as_of == pd.Timestamp("2024-02-05")


def test_canonical_names_are_matched_regardless_of_case(tmp_path):
    path = tmp_path / "shop.csv"
    path.write_text("Customer ID,Order Date,Amount\n7,2024-03-01,3\n8,2024-03-02,4\n")
    tx = load_transactions(path)
    assert tx.frame["customer_id"].tolist() == ["7", "8"]
    assert "column matched" in set(tx.log["step"])


def test_missing_required_column_names_column_file_and_fix(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("client,when,total\n1,2024-01-01,3\n")
    with pytest.raises(DataError) as err:
        load_transactions(path)
    message = str(err.value)
    assert "customer_id" in message and str(path) in message
    assert "available: client, when, total" in message and "--column customer_id=" in message
    assert "\n" not in message


def test_mapping_to_a_column_that_does_not_exist(tmp_path):
    path = tmp_path / "orders.csv"
    path.write_text("client,when,total\n1,2024-01-01,3\n")
    with pytest.raises(DataError, match="column 'CustomerID' .for customer_id. not found"):
        load_transactions(path, {"customer_id": "CustomerID"})


def test_amount_from_quantity_and_price_and_text_amounts():
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "order_date": ["2024-01-01", "2024-01-02", "2024-01-03"],
            "quantity": ["2", "1", "3"],
            "unit_price": ["£1,000.50", "4", "0.5"],
        }
    )
    tx = load_transactions(raw)
    assert tx.frame["amount"].tolist() == [2001.0, 4.0, 1.5]
    assert "amount derived" in set(tx.log["step"])


def test_parse_amounts_handles_symbols_separators_and_brackets():
    values, from_text = parse_amounts(
        pd.Series(["£1,234.50", "1.234,50 €", "(12.00)", "7", "abc", "3,5", "12,000"])
    )
    expected = [1234.5, 1234.5, -12.0, 7.0, np.nan, 3.5, 12000.0]
    np.testing.assert_allclose(values.to_numpy(), expected)
    assert from_text == 5


def test_parse_dates_mixed_formats_and_dayfirst():
    values, mixed = parse_dates(pd.Series(["2024-01-05", "2024-02-07 10:00", "07/03/2024", "nope"]))
    assert values.iloc[0] == pd.Timestamp("2024-01-05")
    assert values.iloc[1] == pd.Timestamp("2024-02-07 10:00")
    assert pd.isna(values.iloc[3])
    assert mixed == 2
    dayfirst, _ = parse_dates(pd.Series(["03/04/2011", "25/12/2011"]), dayfirst=True)
    assert dayfirst.tolist() == [pd.Timestamp("2011-04-03"), pd.Timestamp("2011-12-25")]
    named, _ = parse_dates(pd.Series(["03/04/2011"]), date_format="%d/%m/%Y")
    assert named.iloc[0] == pd.Timestamp("2011-04-03")


def test_a_cancelled_purchase_goes_with_its_cancellation():
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "a", "b"],
            "order_date": [
                "2024-01-01",
                "2024-01-01 10:05",
                "2024-01-02",
                "2024-01-03",
                "2024-01-02",
            ],
            "order_id": ["1", "C1", "2", "C2", "3"],
            "product_id": ["P", "P", "P", "P", "P"],
            "quantity": [500, -500, 2, -1, 500],
            "unit_price": [1.0, 1.0, 1.0, 1.0, 1.0],
        }
    )
    tx = load_transactions(raw)
    # the 500 units of a are reversed in full; a's partial return of 1 unit matches nothing;
    # b's 500 units are another customer's
    assert tx.frame["order_id"].tolist() == ["2", "3"]
    assert _log(tx)["purchases reversed by a cancellation"] == -1
    assert _log(tx)["cancellations and returns"] == -2


def test_returns_policy_drop_or_net():
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "a", "a", "b"],
            "order_date": ["2024-01-01", "2024-01-01", "2024-01-09", "2024-01-02"],
            "order_id": ["1", "C1", "2", "3"],
            "amount": [10.0, -4.0, 6.0, 0.0],
        }
    )
    dropped = load_transactions(raw)
    assert dropped.frame["amount"].tolist() == [10.0, 6.0]
    assert _log(dropped)["cancellations and returns"] == -1
    assert _log(dropped)["non-positive amount"] == -1
    netted = load_transactions(raw, returns="net")
    assert netted.frame["amount"].sum() == pytest.approx(12.0)
    with pytest.raises(DataError, match="returns='keep' .* use one of 'drop', 'net'"):
        load_transactions(raw, returns="keep")
    # every option is checked in one place: a typo is an error, not a silent default
    with pytest.raises(DataError, match=r"^duplicates='dorp' .* use one of 'drop', 'keep'$"):
        load_transactions(raw, duplicates="dorp")
    with pytest.raises(DataError, match="unknown option 'retruns' for the purchase log"):
        load_transactions(raw, retruns="net")


def test_as_of_drops_later_rows_and_rejects_dates_before_the_data():
    raw = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "order_date": ["2024-01-01", "2024-03-01 18:30", "2024-03-02"],
            "amount": [1.0, 2.0, 3.0],
        }
    )
    tx = load_transactions(raw, as_of="2024-03-01")
    assert tx.frame["amount"].tolist() == [1.0, 2.0]  # the whole as_of day is included
    assert _log(tx)["after as_of"] == -1
    with pytest.raises(DataError, match="before the first order"):
        load_transactions(raw, as_of="2023-12-31")
    with pytest.raises(DataError, match="not a date"):
        load_transactions(raw, as_of="last tuesday")


def test_ids_numeric_and_text_are_one_key_and_personal_columns_go():
    raw = pd.DataFrame(
        {
            "customer_id": [12345.0, "12345", " 12345 ", None, "x9"],
            "order_date": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"],
            "amount": [1, 2, 3, 4, 5],
            "Email": ["a@b.c"] * 5,
            "phone": ["1"] * 5,
            "Last Name": ["Doe"] * 5,
            "segment_hint": ["vip"] * 5,
        }
    )
    tx = load_transactions(raw)
    assert tx.frame["customer_id"].tolist() == ["12345", "12345", "12345", "x9"]
    assert not {"Email", "phone", "Last Name"} & set(tx.frame.columns)
    assert "segment_hint" in tx.frame.columns  # extra non-personal columns are kept
    assert _log(tx)["missing customer id"] == -1


def test_unknown_file_type_and_missing_file(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_transactions(tmp_path / "nope.csv")
    odd = tmp_path / "data.json"
    odd.write_text("{}")
    with pytest.raises(DataError, match="unknown file type"):
        load_transactions(odd)


def test_parse_column_map_checks_its_input():
    assert parse_column_map(["customer_id=Kunde", "amount = Total"]) == {
        "customer_id": "Kunde",
        "amount": "Total",
    }
    with pytest.raises(DataError, match="not CANONICAL=SOURCE"):
        parse_column_map(["customer_id"])
    with pytest.raises(DataError, match="not a canonical column"):
        parse_column_map(["client=Kunde"])


def test_a_prepared_log_is_read_back_identical_and_only_for_its_own_request(tmp_path):
    """The runner cleans once (save_prepared); a notebook asking the same thing reads it."""
    tx = load_transactions("online_retail_sample", as_of="2011-09-30", returns="drop")
    key = request_key("online_retail_sample", {}, "2011-09-30", {"returns": "drop"})
    path = save_prepared(tx, tmp_path / "clean.parquet", key)
    again = load_transactions(
        "online_retail_sample", as_of="2011-09-30", prepared=path, returns="drop"
    )
    pd.testing.assert_frame_equal(again.frame, tx.frame)
    pd.testing.assert_frame_equal(again.log, tx.log)
    assert (again.source, again.as_of, again.rows_in) == ("online_retail_sample", tx.as_of, 31_583)
    assert again.available == tx.available and again.currency == "£"
    # another cutoff, another policy, a plain Parquet file or no file: cleaned afresh
    assert read_prepared(path, request_key("online_retail_sample", {}, "2011-10-31", {})) is None
    later = load_transactions("online_retail_sample", as_of="2011-10-31", prepared=path)
    assert later.as_of == pd.Timestamp("2011-10-31") and len(later.frame) > len(tx.frame)
    net = load_transactions(
        "online_retail_sample", as_of="2011-09-30", prepared=path, returns="net"
    )
    assert net.frame["amount"].min() < 0
    tx.frame.to_parquet(tmp_path / "plain.parquet")
    assert read_prepared(tmp_path / "plain.parquet") is None
    assert read_prepared(tmp_path / "missing.parquet") is None


def test_data_can_name_a_duckdb_table_a_query_or_fail_in_one_line(tmp_path):
    """``duckdb:PATH#TABLE`` and ``sql:QUERY`` give the same clean log as the CSV export."""
    import duckdb

    from analysis.config import DATA_DIR
    from analysis.data import BUILTINS

    csv = DATA_DIR / "online_retail_sample.csv"
    db = tmp_path / "shop.duckdb"
    with duckdb.connect(str(db)) as con:
        con.execute(f"CREATE TABLE orders AS SELECT * FROM read_csv('{csv}', all_varchar = true)")
    builtin = BUILTINS["online_retail_sample"]
    expected = load_transactions("online_retail_sample")
    for data in (
        f"duckdb:{db}#orders",
        f"duckdb:{db}#SELECT * FROM orders",
        f"sql:SELECT * FROM read_csv('{csv}', all_varchar = true)",
    ):
        tx = load_transactions(data, builtin.columns, **builtin.options)
        pd.testing.assert_frame_equal(tx.frame, expected.frame)
        assert tx.rows_in == 31_583 and tx.source == data
    eu = load_transactions(
        f"duckdb:{db}#SELECT * FROM orders WHERE Country = 'France'", builtin.columns
    )
    assert set(eu.frame["region"]) == {"France"} and eu.frame["customer_id"].nunique() == 4
    for data, words in (
        (f"duckdb:{tmp_path / 'nope.duckdb'}#orders", "not found"),
        (f"duckdb:{db}", "names no table"),
        (f"duckdb:{db}#missing_table", "missing_table"),
        ("sql:", "names no table or query"),
    ):
        with pytest.raises(DataError, match=words):
            load_transactions(data)


# --------------------------------------------------------------------------- encodings

RETAIL_CSV = Path(__file__).resolve().parents[1] / "data" / "online_retail_sample.csv"


def _retail_rows(n: int = 300) -> pd.DataFrame:
    """Real rows of the shipped Online Retail sample: customer, date, paid amount."""
    raw = pd.read_csv(RETAIL_CSV, dtype=str).dropna(subset=["CustomerID"]).head(n)
    paid = raw["Quantity"].astype(float) * raw["UnitPrice"].astype(float)
    return pd.DataFrame(
        {
            "customer": raw["CustomerID"].to_numpy(),
            "date": raw["InvoiceDate"].to_numpy(),
            "paid": paid.round(2).astype(str).to_numpy(),
            "product": raw["Description"].to_numpy(),
            "country": raw["Country"].to_numpy(),
        }
    )


def _gbk_export(path: Path) -> pd.DataFrame:
    """A Chinese Excel export of real retail rows, with a phone and a contact column."""
    rows = _retail_rows()
    rng = np.random.default_rng(12)
    frame = pd.DataFrame(
        {
            "会员ID": rows["customer"],
            "下单时间": rows["date"],
            "实付金额": rows["paid"],
            "商品名称": rows["product"],
            "国家": rows["country"],
            "手机号": [f"1{rng.integers(3, 10)}{rng.integers(0, 10**9):09d}" for _ in rows.index],
            "contact": [f"kunde{c}@example.com" for c in rows["customer"]],
        }
    )
    frame.to_csv(path, index=False, encoding="gbk")
    return frame


GBK_COLUMNS = ["customer_id=会员ID", "order_date=下单时间", "amount=实付金额"]


def test_gbk_export_validates_without_encoding_and_loses_its_personal_columns(tmp_path, capsys):
    from analysis.cli import main

    path = tmp_path / "订单.csv"
    frame = _gbk_export(path)
    with pytest.raises(UnicodeDecodeError):
        path.read_text(encoding="utf-8")  # really GBK, not UTF-8
    args = ["validate", "--data", str(path)]
    for item in GBK_COLUMNS:
        args += ["--column", item]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "personal-data columns removed" in out
    assert "手机号 (name)" in out and "contact (values: 100% e-mail addresses)" in out
    tx = load_transactions(str(path), columns=dict(c.split("=") for c in GBK_COLUMNS))
    assert not {"手机号", "contact"} & set(tx.frame.columns)
    assert {"商品名称", "国家"} <= set(tx.frame.columns)  # Chinese attribute names kept
    # the same rows as a UTF-8 file with English names clean to the same log
    frame.rename(
        columns={"会员ID": "customer_id", "下单时间": "order_date", "实付金额": "amount"}
    ).to_csv(tmp_path / "utf8.csv", index=False)
    same = load_transactions(str(tmp_path / "utf8.csv"))
    assert tx.rows_clean == same.rows_clean == 288 and tx.frame["customer_id"].nunique() == 17
    assert tx.frame["amount"].sum() == pytest.approx(same.frame["amount"].sum())
    # --encoding still overrides: read as cp1252 the Chinese names are mojibake
    assert main([*args, "--encoding", "cp1252"]) == 2
    assert "'会员ID' (for customer_id) not found" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("encoding", "header"),
    [
        ("gbk", ("会员ID", "下单时间", "实付金额", "国家")),
        ("gb18030", ("会员ID", "下单时间", "实付金额", "国家")),
        ("big5", ("會員編號", "下單時間", "實付金額", "國家")),
        ("shift_jis", ("顧客ID", "注文日時", "支払金額", "国")),
        ("utf-16", ("会员ID", "下单时间", "实付金额", "国家")),  # with a byte-order mark
        ("utf-16-le", ("会员ID", "下单时间", "实付金额", "国家")),  # without
        ("utf-16-be", ("customer", "date", "amount", "country")),
        ("utf-8-sig", ("会员ID", "下单时间", "实付金额", "国家")),
        ("cp1252", ("Kunde", "Bestelldatum", "Betrag", "Land")),
    ],
)
def test_exports_in_national_encodings_read_as_written(tmp_path, encoding, header):
    rows = _retail_rows(200)[["customer", "date", "paid", "country"]]
    rows.columns = list(header)
    if encoding == "cp1252":  # Western names that a cp1250 or DOS reading would garble
        rows[header[3]] = ["España", "Göteborg", "Besançon", "Zürich"] * 50
    path = tmp_path / "export.csv"
    rows.to_csv(path, index=False, encoding=encoding)
    read = read_table(path)
    assert list(read.columns) == list(header)
    pd.testing.assert_frame_equal(read, rows.astype(object), check_dtype=False)
    tx = load_transactions(str(path), columns=dict(zip(CANONICAL[:3], header[:3], strict=True)))
    rows.set_axis([*CANONICAL[:3], "region"], axis=1).to_csv(tmp_path / "utf8.csv", index=False)
    same = load_transactions(str(tmp_path / "utf8.csv"))
    assert tx.rows_clean == same.rows_clean > 100
    assert tx.frame["amount"].sum() == pytest.approx(same.frame["amount"].sum())


def test_short_western_files_keep_their_accents(tmp_path):
    cases = {
        "cp1252": "customer_id,order_date,amount,region\n1,2011-01-05,10,España\n",
        "latin-1": "customer_id,order_date,amount,region\n1,2011-01-05,10,Zürich\n",
        # three Polish names: with one or two, cp1252 explains the bytes as well
        "cp1250": "klient,kwota,miasto\n1,10,Łódź\n2,3,Kraków\n3,3,Gdańsk\n",
    }
    for encoding, text in cases.items():
        raw = text.encode(encoding)
        assert raw.decode(detect_encoding(raw)) == text, encoding
    with pytest.raises(DataError, match="no known text encoding"):
        detect_encoding(bytes(range(256)) * 8)


def test_gzipped_gbk_export_is_sniffed_too(tmp_path):
    plain = tmp_path / "a.csv"
    frame = _gbk_export(plain)
    packed = tmp_path / "a.csv.gz"
    with gzip.open(packed, "wb") as fh:
        fh.write(plain.read_bytes())
    assert list(read_table(packed).columns) == list(frame.columns)


def test_a_large_export_cut_inside_a_character_is_still_detected(tmp_path):
    from analysis.data import _SNIFF_BYTES

    body = "".join(
        f"{i},2011-01-05 10:00,{i % 97}.5,服务很好，物流很快{i}\n" for i in range(150_000)
    )
    for pad in range(4):  # shift the text until the sample's cut falls inside a character
        raw = ("会员ID,下单时间,实付金额,备注" + "x" * pad + "\n" + body).encode("gbk")
        try:
            raw[:_SNIFF_BYTES].decode("gbk")
        except UnicodeDecodeError:
            break
    else:
        pytest.fail("no cut inside a character")
    (tmp_path / "big.csv").write_bytes(raw)
    assert list(read_table(tmp_path / "big.csv").columns)[0] == "会员ID"
