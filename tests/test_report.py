"""report: HTML without code, tables for people, labels of every code, summary findings."""
import base64
import io
import re

import nbformat
import numpy as np
import pandas as pd
import pytest

from kbanalysis.deliverables import report
from kbanalysis.deliverables.report import header, label, people_table, render_html, render_pdf, top_findings
from kbanalysis.schema import BASES, KEY_ACCOUNT, LOYALTY, OUTPUTS

ISSUES = ("invalid_inn", "invalid_phone", "missing_value", "unknown_client", "two_managers", "too_frequent_contact",
          "stale_contact", "closed_with_sales", "bad_date", "bad_number", "duplicate_id", "incomplete_card",
          "bad_probability", "future_date", "negative_stock", "bad_value", "no_recent_sales", "short_history",
          "missing_table")
FLAGS = ("sources_disagree", "stock_short", "overstock", "manager_optimistic", "no_stock_data", "no_deals",
         "no_marketing")
REASONS = ("same_inn", "same_phone", "same_name", "similar_name")
CYRILLIC = re.compile("[А-Яа-яЁё]")


def _png() -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([1, 2], [3, 4])
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


@pytest.fixture
def executed_nb(tmp_path):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell("lang = 'ru'\nSECRET_CODE_LINE = 1")
    params.metadata["tags"] = ["parameters"]
    md = nbformat.v4.new_markdown_cell("# Итоги аудита\nТекст для директора.")
    heading = nbformat.v4.new_code_cell("display(Markdown('## Потерянные клиенты'))\nimport warnings")
    heading.outputs = [nbformat.v4.new_output("display_data", data={"text/markdown": "## Потерянные клиенты",
                                                                    "text/plain": "<IPython.core.display.Markdown>"}),
                       nbformat.v4.new_output("stream", name="stderr",
                                              text="UserWarning: THIS WARNING MUST NOT SHOW\n")]
    chart = nbformat.v4.new_code_cell("fig, ax = plt.subplots(); ax.plot([1, 2])")
    chart.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "[<matplotlib.lines.Line2D at 0x7f>]"},
                                            execution_count=3),
                     nbformat.v4.new_output("display_data", data={"image/png": _png(),
                                                                  "text/plain": "<Figure size 200x100 with 1 Axes>"}),
                     nbformat.v4.new_output("stream", name="stdout", text="строк прочитано: 10\n")]
    table = nbformat.v4.new_code_cell("people_table(df)")
    styled = people_table(pd.DataFrame({"revenue_12m": [1234567.0], "base": ["lost"]}), "ru")
    table.outputs = [nbformat.v4.new_output("execute_result", data={"text/html": styled.to_html(),
                                                                    "text/plain": "<Styler>"}, execution_count=4)]
    nb.cells = [params, md, heading, chart, table]
    path = tmp_path / "05-summary.ipynb"
    nbformat.write(nb, path)
    return path


def test_render_html(executed_nb, tmp_path):
    out = render_html(executed_nb, tmp_path / "out" / "05-summary.html", title="Итоги аудита клиентской базы")
    assert out.exists()
    html = out.read_text(encoding="utf-8")
    assert "<title>Итоги аудита клиентской базы</title>" in html
    assert 'lang="ru"' in html
    assert "SECRET_CODE_LINE" not in html and "display(Markdown" not in html and "plt.subplots" not in html
    assert "THIS WARNING MUST NOT SHOW" not in html
    assert 'data-mime-type="application/vnd.jupyter.stderr"' not in html
    body = html[html.index("<body"):]
    assert not re.search(r"In&nbsp;\[|In\s*\[\d*\]:|Out\[\d*\]", body)
    assert "jp-InputPrompt" not in body and "jp-OutputPrompt" not in body
    assert re.search(r'<img[^>]+src="data:image/png;base64,', html)
    assert "Потерянные клиенты" in html and "строк прочитано: 10" in html and "1 234 567 ₽" in html
    assert "Line2D" not in html and "&lt;Figure size" not in html


def test_render_pdf_never_fails(executed_nb, tmp_path):
    html = render_html(executed_nb, tmp_path / "x.html", title="x")
    pdf = render_pdf(html, timeout=120)
    if report.pdf_converter() is None:
        assert pdf is None
    else:  # chromium / wkhtmltopdf installed: a real PDF next to the HTML
        assert pdf == html.with_suffix(".pdf") and pdf.read_bytes()[:5] == b"%PDF-"
    assert render_pdf(tmp_path / "missing.html", timeout=5) is None


def test_people_table_formats():
    df = pd.DataFrame({"client_id": ["a", "b"], "revenue_12m": [1234567.0, np.nan], "share_of_wallet": [0.1234, 1.0],
                       "active_months": [12.0, 3.0], "last_order_date": pd.to_datetime(["2024-03-15", None]),
                       "loyalty": ["main", "indifferent"], "score": [3.0, 1234.5]})
    ru = people_table(df, "ru", "RUB", styler=False)
    assert list(ru.columns) == [header(c, "ru") for c in df.columns]
    assert ru.iloc[0].tolist() == ["a", "1 234 567 ₽", "12,3\u00a0%", "12", "15.03.2024", "один из основных поставщиков",
                                   "3"]
    assert ru.iloc[1].tolist()[1:5] == ["—", "100,0\u00a0%", "3", "—"]
    assert ru.iloc[1, 6] == "1 234,5"
    en = people_table(df, "en", "RUB", styler=False)
    assert en.iloc[0].tolist()[:5] == ["a", "RUB 1,234,567", "12.3%", "12", "2024-03-15"]
    st = people_table(df, "ru", headers={"client_id": "Клиент №"})
    assert st.data.columns[0] == "Клиент №"
    assert "1 234 567 ₽" in st.to_html()
    custom = people_table(pd.DataFrame({"x": [1234567.0]}), "ru", money=["x"], styler=False)
    masked = people_table(pd.DataFrame({"phone": ["89123456789"], "name": ["a@b.ru"]}), "ru", styler=False, mask=True)
    assert masked.iloc[0].tolist() == ["+7 (912) ***-**-89", "a***@b.ru"]
    assert custom.iloc[0, 0] == "1 234 567 ₽"


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_every_code_has_a_label(lang):
    from kbanalysis.deliverables import i18n

    for code in ISSUES + FLAGS + REASONS + BASES + LOYALTY + KEY_ACCOUNT:
        entry = i18n._texts().get(f"lbl.{code}")
        assert entry and entry.get("ru") and entry.get("en"), code
        text = label(code, lang)
        assert text == entry[lang]
        if lang == "ru":
            assert CYRILLIC.search(text), (code, text)
        else:
            assert not CYRILLIC.search(text), (code, text)
    assert label("potential", "ru") == "потенциальные (ни разу не покупали)"
    assert label("active", "ru") == "активные" and label("closed", "ru") == "закрытые"


@pytest.mark.parametrize("lang", ["ru", "en"])
def test_every_output_column_has_a_header(lang):
    extras = ("name", "channel", "manager", "region", "wallet_source", "cluster_name", "merged_into", "completeness",
              "product_group", "phone", "email", "inn", "money_at_stake", "finding")
    for col in {c for cols in OUTPUTS.values() for c in cols} | set(extras):
        h = header(col, lang)
        assert h != col, col
        assert bool(CYRILLIC.search(h)) == (lang == "ru"), (col, h)


def _run(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    pd.DataFrame({"client_id": ["a", "b", "c", "d"], "base": ["active", "sleeping", "lost", "potential"],
                  "revenue_12m": [12_000_000.0, 1_200_000.0, 600_000.0, np.nan],
                  "upsell_month": [300_000.0, 10_000.0, 0.0, 0.0], "crosssell_month": [50_000.0, 0.0, 0.0, 0.0],
                  "wallet_month": [2e6, 2e5, 1e5, 400_000.0], "key_account": ["critical", "none", "none", "none"],
                  "plan_month": [1_200_000.0, 110_000.0, 50_000.0, 12_000.0],
                  "achievable_month": [200_000.0, 10_000.0, 50_000.0, 12_000.0]}
                 ).to_csv(run / "clients.csv", index=False)
    pd.DataFrame({"client_id": ["c"], "last_order_date": ["2024-01-10"], "active_months": [6],
                  "avg_month_revenue": [50_000.0], "priority": [1]}).to_csv(run / "lost_clients.csv", index=False)
    pd.DataFrame({"client_id": ["b"], "duplicate_of": ["a"], "reason": ["same_inn"]}).to_csv(
        run / "duplicates.csv", index=False)
    (run / "quality_issues.csv").write_text("table,row,client_id,issue,detail\n", encoding="utf-8")  # header only
    pd.DataFrame({"month": ["2024-07", "2024-07"], "product_group": ["ALL", "pipes"], "stock_gap": [70_000.0, 70_000.0]}
                 ).to_csv(run / "forecast.csv", index=False)
    return run


def test_a_sleeping_client_on_the_win_back_list_is_counted_once(tmp_path):
    """b is sleeping and on the list (silent past the rule, expected back): its money is in the lost finding
    (avg 30 000 a month), not again in the sleeping one, which keeps e alone (2 400 000 / 12 = 200 000)."""
    run = _run(tmp_path)
    c = pd.read_csv(run / "clients.csv")
    c = pd.concat([c, c.iloc[[1]].assign(client_id="e", revenue_12m=2_400_000.0)], ignore_index=True)
    c.to_csv(run / "clients.csv", index=False)
    pd.DataFrame({"client_id": ["c", "b"], "last_order_date": ["2024-01-10", "2024-02-01"], "active_months": [6, 8],
                  "avg_month_revenue": [50_000.0, 30_000.0], "priority": [1, 2]}).to_csv(run / "lost_clients.csv",
                                                                                       index=False)
    f = report.findings(run, "en", currency="RUB").set_index("code")
    assert f.loc["lost", "money_at_stake"] == 80_000 and f.loc["lost", "n"] == 2
    assert f.loc["sleeping", "money_at_stake"] == 200_000 and f.loc["sleeping", "n"] == 1
    assert "the 1 on the win-back list are counted there" in f.loc["sleeping", "finding"]


def test_top_findings(tmp_path):
    run = _run(tmp_path)
    f = report.findings(run, "ru")
    assert set(f["code"]) == {"lost", "sleeping", "growth", "key_account", "potential", "duplicates", "stock_gap"}
    money = dict(zip(f["code"], f["money_at_stake"]))
    ceiling = dict(zip(f["code"], f["ceiling_month"]))
    # growth: the plans' uplift of the active and sleeping clients (a, b), their up+cross-sale the ceiling beside it
    assert money["growth"] == 210_000 and ceiling["growth"] == 360_000
    growth = f.loc[f["code"] == "growth", "finding"].iloc[0]
    assert "210 000 ₽" in growth and "360 000 ₽" in growth and "+19,1\u00a0%" in growth  # 210k / (1.1M a month)
    assert money["lost"] == 50_000 and money["sleeping"] == 100_000
    assert money["key_account"] == 1_000_000 and money["duplicates"] == 1_100_000 and money["stock_gap"] == 70_000
    assert money["potential"] == 12_000 and ceiling["potential"] == 400_000  # the plan, the wallet as the ceiling
    assert f["money_at_stake"].is_monotonic_decreasing
    top = top_findings(run, "ru", n=3)
    assert list(top.columns) == ["finding", "money_at_stake", "ceiling_month"] and len(top) == 3
    assert top["ceiling_month"].notna().sum() == 1  # only the growth finding has a ceiling
    assert "1 100 000 ₽" in top["finding"].iloc[0] or "1 000 000 ₽" in top["finding"].iloc[0]
    key = f.loc[f["code"] == "key_account", "finding"].iloc[0]
    assert "Ключевых клиентов: 1" in key and "%" in key
    en = top_findings(run, "en", n=10)
    assert not any(CYRILLIC.search(t) for t in en["finding"])
    shown = people_table(top, "ru", styler=False)
    assert shown.columns.tolist() == ["Вывод", "Сумма на кону", "Потолок в мес. (не цель)"]


def test_top_findings_robust(tmp_path):
    assert top_findings(tmp_path, "ru").empty
    (tmp_path / "clients.csv").write_text("", encoding="utf-8")
    (tmp_path / "forecast.csv").write_text("month,product_group\n2024-01,ALL\n", encoding="utf-8")
    (tmp_path / "lost_clients.csv").write_text("client_id\nx\n", encoding="utf-8")
    f = top_findings(tmp_path, "en")
    assert len(f) == 1 and np.isnan(f["money_at_stake"].iloc[0])


def test_headline_from_summary_figures(tmp_path):
    clients = pd.read_csv(_run(tmp_path) / "clients.csv")
    s = report.summary_figures(clients)
    s["rows"] = {"sales": {"read": 1000, "used": 990, "rejected": 10}, "clients": {"read": 4, "used": 4,
                                                                                  "rejected": 0}}
    h = report.headline(s, "ru")
    table = dict(h.values.tolist())
    assert table["Карточек клиентов всего"] == "4"
    assert table["Активная клиентская база (АКБ)"] == "1"
    assert table["Выручка за 12 месяцев"] == "13 800 000 ₽"
    assert table["Строк данных: прочитано / использовано / отклонено"] == "1 004 / 994 / 10"
    en = report.headline(s, "en", currency="USD")
    assert not any(CYRILLIC.search(v) for v in en.to_numpy().ravel())


def test_notebook_titles():
    for name in ("01-audit", "02-turnover", "03-segments", "04-forecast", "05-summary"):
        assert CYRILLIC.search(report.notebook_title(name, "ru"))
        assert not CYRILLIC.search(report.notebook_title(name, "en"))


def test_chart_height_follows_the_number_of_bars(tmp_path):
    """One manager's completeness bar is a short figure; many keep the full height."""
    from PIL import Image as PILImage

    from kbanalysis.audit.plots import completeness_bars
    from kbanalysis.run.workbook import Workbook

    wb = Workbook(run_dir=str(tmp_path / "run"), lang="en")
    one = pd.DataFrame({"manager": [None], "cards": [40], "completeness": [0.5]})
    many = pd.DataFrame({"manager": [f"m{i}" for i in range(12)], "cards": [5] * 12,
                         "completeness": np.linspace(0.3, 0.9, 12)})
    wb.chart("one", completeness_bars, one)
    wb.chart("many", completeness_bars, many)
    h_one = PILImage.open(wb.rf.chart_path("one")).size[1]
    h_many = PILImage.open(wb.rf.chart_path("many")).size[1]
    assert h_one < 0.6 * h_many


def test_every_money_column_of_forecast_csv_is_formatted_as_money():
    from kbanalysis.deliverables import report
    from kbanalysis.forecast.model import OUT_COLUMNS

    money = [c for c in OUT_COLUMNS if c not in ("month", "product_group", "flag")]
    assert [c for c in money if c not in report.MONEY_COLUMNS] == []
    assert "rmse" in report.MONEY_COLUMNS  # forecast_errors.csv: the root-mean-square error in money


def test_every_money_column_of_the_wallet_table_is_formatted_as_money():
    """The per-source estimates (``w_*``) are money like the wallet beside them (they showed as bare numbers)."""
    from kbanalysis.deliverables import report
    from kbanalysis.wallet.model import WALLET_COLUMNS

    money = [c for c in WALLET_COLUMNS if c.startswith("w_") or c.endswith("_month") or c.startswith("wallet_")]
    money = [c for c in money if c != "wallet_source"]
    assert [c for c in money if c not in report.MONEY_COLUMNS] == []
    shown = report.people_table(pd.DataFrame({"w_lookalike": [560.85]}), "ru", "GBP")
    assert "561 £" in shown.to_html()


def test_no_minus_zero_and_the_forecast_bias_is_a_share():
    """A bias of -0,3 % showed as «-0» in the sources' table (#23): it is a share, and a plain number that
    rounds to zero has no sign."""
    from kbanalysis.deliverables import report

    assert report._fmt_float(-0.003, "ru") == "0" and report._fmt_float(-0.5, "ru") == "-0,5"
    html = report.people_table(pd.DataFrame({"bias": [-0.0032, 0.051]}), "ru", "RUB").to_html()
    assert "-0,3\u00a0%" in html and "5,1\u00a0%" in html and ">-0<" not in html
