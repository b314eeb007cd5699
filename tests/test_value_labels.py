"""Labels of data codes (``mapping.yaml``'s ``labels``) and of the method's own codes in the reports (#23 item 4)."""
from pathlib import Path

import pandas as pd
import pytest

from kbanalysis.deliverables import report
from kbanalysis.errors import UserError
from kbanalysis.io.case import read_mapping


def _mapping(tmp_path: Path, text: str) -> Path:
    (tmp_path / "mapping.yaml").write_text(text, encoding="utf-8")
    return tmp_path


def test_labels_are_read_per_column_and_language(tmp_path):
    m = read_mapping(_mapping(tmp_path, "clients: {Станки: machines}\nlabels:\n  channel:\n"
                                        "    dealer: {ru: Дилеры, en: Dealers}\n    web: Онлайн\n"))
    assert m["labels"] == {"channel": {"dealer": {"ru": "Дилеры", "en": "Dealers"}, "web": "Онлайн"}}
    assert m["clients"] == {"Станки": "machines"}


@pytest.mark.parametrize("text,says", [
    ("labels: [dealer]\n", "labels: expected {column: {code: label}}"),
    ("labels: {inn: {x: y}}\n", "'inn' is not a column with codes"),
    ("labels: {channel: [dealer]}\n", "labels: channel: expected {code: label}"),
    ("labels: {channel: {dealer: {de: Händler}}}\n", "labels: channel: 'dealer': expected a text or {ru: text, en: text}"),
    ("labels: {channel: {dealer: ''}}\n", "'dealer': expected a text"),
])
def test_a_wrong_label_table_is_named(tmp_path, text, says):
    with pytest.raises(UserError, match="mapping.yaml: ") as e:
        read_mapping(_mapping(tmp_path, text))
    assert says in str(e.value)


def test_people_table_shows_the_label_in_the_run_language_and_keeps_unknown_codes():
    df = pd.DataFrame({"channel": ["dealer", "web", "other", None], "product_group": ["x", "x", "ALL", "x"]})
    values = {"channel": {"dealer": {"ru": "Дилеры", "en": "Dealers"}, "web": "Онлайн"},
              "product_group": {"x": {"ru": "Крепёж"}}}
    ru = report.people_table(df, "ru", values=values, styler=False)
    en = report.people_table(df, "en", values=values, styler=False)
    assert ru.iloc[:, 0].tolist()[:3] == ["Дилеры", "Онлайн", "other"]
    assert en.iloc[:, 0].tolist()[:3] == ["Dealers", "Онлайн", "other"]
    assert ru.iloc[:, 1].tolist() == ["Крепёж", "Крепёж", "все группы", "Крепёж"]
    assert en.iloc[0, 1] == "Крепёж"  # a label given in one language is used in the other too
    assert df["channel"].tolist()[0] == "dealer"  # the data keep their codes


def test_base_reasons_and_lost_lists_are_labelled():
    df = pd.DataFrame({"base_reason": ["revenue_drop", "rhythm", "lost_model", "strange"],
                       "list": ["reactivation_list", "first_10", "called_lost", "called_lost"],
                       "method": ["rule", "recency", "bgnbd", "learnt"]})
    ru = report.people_table(df, "ru", styler=False)
    assert ru.iloc[:, 0].tolist() == ["продажи за 3 месяца упали вдвое и больше", "покупает в своём ритме",
                                      "по проверке на прошлом скорее не вернётся", "strange"]
    assert ru.iloc[:3, 1].tolist() == ["список на возврат", "первые 10 в списке", "все, кого правило назвало потерянными"]
    assert not ru.iloc[:, 2].str.fullmatch(r"[a-z]+").any()
    assert list(ru.columns) == ["Почему в этой группе", "Список", "Способ прогноза"]


def test_the_bundled_sample_labels_its_channels_and_groups():
    from kbanalysis.synth.case import CHANNELS, GROUPS, MESSY_LABELS

    # the sample carries the Russian names (as 1C writes them): the labels are keyed by them, with the English
    labels = read_mapping(Path(__file__).resolve().parent.parent / "data" / "sample")["labels"]
    for col, codes in (("channel", CHANNELS), ("product_group", GROUPS)):
        assert set(labels[col]) == {MESSY_LABELS[col][c]["ru"] for c in codes}
        assert {v["en"] for v in labels[col].values()} == {MESSY_LABELS[col][c]["en"] for c in codes}
    assert all(set(v) == {"ru", "en"} for col in labels.values() for v in col.values())
