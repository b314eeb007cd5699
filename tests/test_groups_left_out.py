"""The shortcut of sales.groups_left_out_of (no month aggregation when every group is kept) answers as the full way."""
import pandas as pd
import pytest

from kbanalysis.sales import group_months, groups_left_out, groups_left_out_of
from kbanalysis.synth.case import generate_case


@pytest.fixture(scope="module")
def lines():
    case = generate_case(n_clients=120, seed=3)
    s = case.tables["sales"].copy()
    s["product_group"] = s["product_group"].astype("category")
    return s, case.as_of


@pytest.mark.parametrize("drop", [0, 1, 3])
def test_same_answer_as_aggregating_by_month(lines, drop):
    s, as_of = lines
    groups = sorted(s["product_group"].astype(str).unique())
    kept = groups[drop:]
    full = groups_left_out(group_months(s, as_of), kept)
    assert groups_left_out_of(s, as_of, kept) == full
    assert (full is None) == (drop == 0)


def test_a_group_sold_only_after_the_analysis_date_is_not_left_out():
    s = pd.DataFrame({"date": pd.to_datetime(["2024-03-01", "2024-05-01"]), "client_id": ["a", "a"],
                      "product_group": ["x", "later"], "amount": [9.0, 5.0]})
    assert groups_left_out_of(s, "2024-04-01", ["x"]) is None


def test_the_sentence_gives_the_last_month_in_the_report_language():
    """«последняя продажа — 06.2021» in Russian, 2021-06 in English (the prose said 2021-06 in both, #23)."""
    from kbanalysis.deliverables.i18n import t

    facts = {"n": 1, "groups": "y", "amount": 8.0, "last": "2021-06"}
    for key in ("nb.turnover.groups_left_out", "forecast.note.groups_not_forecast"):
        ru = t(key, "ru", as_of=pd.Timestamp("2024-04-01"), **facts)
        assert "06.2021" in ru and "2021-06" not in ru
        assert "2021-06" in t(key, "en", as_of=pd.Timestamp("2024-04-01"), **facts)
