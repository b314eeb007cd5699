"""Sales ids read as Parquet dictionaries (categoricals) give the same analysis as text ids."""
import numpy as np
import pandas as pd
import pytest

from kbanalysis.sales import engine as aggregate
from kbanalysis.sales.lines import distinct_ids, with_masters as _remap
from kbanalysis.io.runfolder import RunFolder


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(3)
    n = 5_000
    df = pd.DataFrame({
        "date": pd.to_datetime("2024-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D"),
        "client_id": pd.array([f"c{i:03d}" if i else None for i in rng.integers(0, 300, n)], dtype="string"),
        "product_group": pd.array(rng.choice(["x", "y", "Ω"], n), dtype="string"),
        "amount": rng.integers(-10, 500, n) / 4.0, "doc_id": pd.array([f"d{i}" for i in range(n)], dtype="string")})
    rf = RunFolder(tmp_path / "run")
    rf.write_work("sales", df)
    return rf


def test_labels_read_as_categoricals_of_the_plain_text_dtype(folder):
    plain = folder.read_work("sales")
    cat = folder.read_work("sales", columns=["date", "client_id", "amount"], labels=("client_id", "product_group"))
    assert list(cat.columns) == ["date", "client_id", "amount"]  # a label outside ``columns`` is not read
    assert isinstance(cat["client_id"].dtype, pd.CategoricalDtype)
    assert cat["client_id"].cat.categories.dtype == plain["client_id"].dtype
    pd.testing.assert_series_equal(cat["client_id"].astype(plain["client_id"].dtype), plain["client_id"])
    assert cat["client_id"].isna().sum() == plain["client_id"].isna().sum() > 0


def test_aggregations_of_categorical_and_text_ids_are_equal(folder):
    plain = folder.read_work("sales")
    cat = folder.read_work("sales", labels=("client_id", "product_group"))
    for func in ("client_summary", "client_months", "client_groups"):
        for engine in ("pandas", "fast"):
            got = getattr(aggregate, func)(cat, "2025-01-15", engine=engine)
            aggregate._cache.clear()
            pd.testing.assert_frame_equal(got, getattr(aggregate, func)(plain, "2025-01-15", engine=engine),
                                          check_exact=True)
            aggregate._cache.clear()


def test_remap_of_categorical_ids_merges_duplicate_cards():
    ids = pd.Series(["a", "b", "c", None, "b", "d"], dtype="string")
    to_master = pd.Series(["a", "a", "c", "d"], index=["a", "b", "c", "d"])  # b is a's duplicate
    text = _remap(pd.DataFrame({"client_id": ids}), to_master)["client_id"]
    cat = _remap(pd.DataFrame({"client_id": ids.astype("category")}), to_master)["client_id"]
    assert isinstance(cat.dtype, pd.CategoricalDtype)
    assert list(cat.cat.categories) == ["a", "c", "d"]  # b's category merged into a's
    pd.testing.assert_series_equal(cat.astype("string"), text)
    assert sorted(distinct_ids(cat)) == ["a", "c", "d"]
    assert sorted(distinct_ids(ids)) == ["a", "b", "c", "d"]


def test_stages_read_sales_columns_the_case_lacks(tmp_path):
    """The loaded sales table has every canonical column (empty when the case lacks it), so the
    stages name their columns without checking: a case without manager, doc_id or cost runs."""
    from kbanalysis.schema import TABLES
    from kbanalysis.run.workbook import Workbook

    case = tmp_path / "case"
    case.mkdir()
    (case / "clients.csv").write_text("client_id,name,channel\n1,ООО Ромашка,retail\n2,ИП Иванов,dealer\n",
                                      encoding="utf-8")
    (case / "sales.csv").write_text("date,client_id,product_group,amount\n2024-01-15,1,tools,100\n"
                                    "2024-02-03,2,paint,50\n2024-03-01,1,tools,70\n", encoding="utf-8")
    wb = Workbook(case_dir=str(case), run_dir=str(tmp_path / "run"))
    wb.load()
    assert list(wb.rf.read_work("sales").columns) == ["_row", *TABLES["sales"].names]
    assert wb.rf.read_work("sales")[["cost", "doc_id", "manager"]].isna().all().all()
    from conftest import run_notebook_cells

    ns = run_notebook_cells("01-audit", case_dir=str(case), run_dir=str(tmp_path / "run"))
    assert set(ns["per_client"]["client_id"]) == {"1", "2"}
    ns = run_notebook_cells("04-forecast", case_dir=str(case), run_dir=str(tmp_path / "run"))
    assert len(ns["table"]) and set(ns["table"]["product_group"]) == {"tools", "paint", "ALL"}
