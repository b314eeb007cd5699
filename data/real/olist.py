"""Olist seller funnel (Brazilian marketplace; its clients are the sellers) -> a contract case with deals.

    .venv/bin/python data/real/olist.py /tmp/olist [--as-of 2018-09-01] [--max-sellers 0] [--seed 0]
    .venv/bin/kbanalysis run /tmp/olist --out /tmp/olist-run -p as_of=2018-09-01 -p currency=BRL -p lang=en

The case is a snapshot at ``--as-of`` (default 2018-09-01, the end of the order-item data): what a CRM
and an accounting export would have shown on that day. Mapping (see data/real/README.md):

**clients** — one card per seller with a sale before the cut, per seller won before the cut (a closed
deal) and per marketing-qualified lead (MQL) first contacted before the cut and not won by then:

* sellers: ``client_id`` = ``seller_id``, ``name`` = ``Seller <first 8 hex>``, ``region`` =
  ``seller_state``; won sellers missing from the sellers table have no region;
* leads: ``client_id`` = ``mql_id``, ``name`` = ``Lead <first 8 hex>`` (never bought: the potential base);
* ``channel`` = the origin of the seller's / lead's MQL (``organic_search``, ``paid_search``, ``social``,
  ``email``, …) where known; ``marketplace`` for sellers that did not come through the funnel and for a
  blank or ``unknown`` origin. ``--channel segment`` uses the closed deal's ``business_segment`` first;
* ``manager`` = the sales rep who closed the deal (``sr_id``, first 8 hex), sellers won before the cut only;
* ``reported_turnover`` = ``declared_monthly_revenue`` where above 0 (the seller's own monthly revenue
  declared at the close: its sales through every channel, the marketplace's "wallet"); driver
  ``catalog_size`` = ``declared_product_catalog_size`` (both sparse: a few dozen sellers).

**sales** — one line per order item dated before the cut: ``date`` = ``shipping_limit_date`` (the day;
there is no order date), ``client_id`` = ``seller_id``, ``product_group`` = the product's category in
English (translation table; the Portuguese name where there is no translation; ``uncategorised``
where the product has no category), ``amount`` = ``price`` (``--with-freight``: + ``freight_value``),
``quantity`` = 1, ``sku`` = ``product_id``, ``doc_id`` = ``order_id``. Lines from the cut on are left
out (they are what happened next); their number is printed.

**deals** — one per MQL first contacted before the cut:

* ``status``: ``won`` if the closed deal's ``won_date`` is before the cut; ``open`` if not (yet) won and
  first contacted at most ``--open-days`` (180) days before the cut; ``lost`` otherwise (the funnel
  records no losses: a lead not won within ``--open-days`` is taken as lost). A lead won after the cut
  is ``open`` in the snapshot;
* ``stage`` = ``mql/<origin>``: the funnel has one stage before the close, and the origin is the only
  thing known about a lead before it closes, so the stage win rates become conversion rates by origin;
* ``probability`` = the overall conversion of the MQLs closed before the cut (won / (won + lost)), the
  same stated figure for every deal, as a marketing plan would state it;
* ``amount`` = the expected value of a deal: the mean revenue (sales as above) that sellers won at least
  90 days before the cut brought in their first 90 days after the win, zeros included (most won sellers
  never sold); one figure for every deal;
* ``planned_month`` = the month of ``won_date`` for won deals, else of first contact + the median days
  from first contact to win of the deals won before the cut (most open leads are therefore overdue);
* ``created_date`` = ``first_contact_date``; ``closed_date`` = ``won_date`` (won) or first contact +
  ``--open-days`` (lost); ``client_id`` = the seller (won) or the lead card; ``manager`` as on the card;
  no ``product_group`` (the workbook splits deals by the sales mix).

No stock, marketing, survey or contacts: the data has none. ``--max-sellers N`` keeps a seeded random
sample of N sellers with sales (with their won deals) and the same share of the other cards and leads.
"""
from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import common  # noqa: E402  (data/real/common.py)

DATASET = "olist-b2b-seller-funnel"
VALUE_DAYS = 90


def _read(folder: Path) -> dict[str, pd.DataFrame]:
    return {
        "mql": pd.read_csv(folder / "olist_marketing_qualified_leads_dataset.csv", dtype=str),
        "closed": pd.read_csv(folder / "olist_closed_deals_dataset.csv",
                              dtype={"mql_id": str, "seller_id": str, "sr_id": str, "sdr_id": str}),
        "sellers": pd.read_csv(folder / "olist_sellers_dataset.csv", dtype=str),
        "items": pd.read_csv(folder / "olist_order_items_dataset.csv.gz", dtype={
            "order_id": str, "product_id": str, "seller_id": str}),
        "products": pd.read_csv(folder / "olist_products_dataset.csv.gz",
                                usecols=["product_id", "product_category_name"], dtype=str),
        "translation": pd.read_csv(folder / "product_category_name_translation.csv", dtype=str),
    }


def _origin_channel(origin: pd.Series) -> pd.Series:
    o = origin.astype("string").str.strip().str.lower()
    return o.where(o.notna() & (o != "") & (o != "unknown"), "marketplace").astype(str)


def convert(src=None, *, as_of: str = "2018-09-01", open_days: int = 180, max_sellers: int = 0, seed: int = 0,
            channel: str = "origin", with_freight: bool = False) -> dict[str, pd.DataFrame]:
    """The case's tables ``{"clients", "sales", "deals"}`` (see the module docstring)."""
    if channel not in ("origin", "segment"):
        raise ValueError(f"channel must be origin or segment, not {channel!r}")
    d = _read(common.source_folder(DATASET, src))
    cut = pd.Timestamp(as_of).normalize()

    # sales: order items before the cut ---------------------------------------------------------
    tr = d["translation"].set_index("product_category_name")["product_category_name_english"]
    cat = d["products"].set_index("product_id")["product_category_name"]
    cat = cat.map(tr).fillna(cat).fillna("uncategorised")
    it = d["items"]
    date = pd.to_datetime(it["shipping_limit_date"]).dt.normalize()
    amount = it["price"].astype(float) + (it["freight_value"].astype(float) if with_freight else 0.0)
    sales = pd.DataFrame({"date": date, "client_id": it["seller_id"],
                          "product_group": it["product_id"].map(cat).fillna("uncategorised"),
                          "amount": amount.round(2), "quantity": 1.0, "sku": it["product_id"],
                          "doc_id": it["order_id"]})
    later = int((sales["date"] >= cut).sum())
    sales = sales.loc[sales["date"] < cut]

    # the funnel as known at the cut -------------------------------------------------------------
    f = d["mql"].merge(d["closed"], on="mql_id", how="left")
    f["first_contact_date"] = pd.to_datetime(f["first_contact_date"])
    f["won_date"] = pd.to_datetime(f["won_date"])
    f = f.loc[f["first_contact_date"] < cut].copy()
    won = f["won_date"].notna() & (f["won_date"] < cut)
    age = (cut - f["first_contact_date"]).dt.days
    f["status"] = np.select([won, age <= open_days], ["won", "open"], "lost")
    lag = (f.loc[won, "won_date"].dt.normalize() - f.loc[won, "first_contact_date"]).dt.days.clip(lower=0)
    lag_days = int(lag.median()) if len(lag) else 30
    closed = f["status"].isin(["won", "lost"])
    p_win = float((f.loc[closed, "status"] == "won").mean()) if closed.any() else 0.1
    # expected deal value: first VALUE_DAYS of revenue of sellers won at least VALUE_DAYS before the cut
    old = f.loc[won & (f["won_date"] <= cut - pd.Timedelta(days=VALUE_DAYS)), ["seller_id", "won_date"]]
    s_old = sales.merge(old, left_on="client_id", right_on="seller_id")
    s_old = s_old.loc[(s_old["date"] >= s_old["won_date"].dt.normalize())
                      & (s_old["date"] < s_old["won_date"].dt.normalize() + pd.Timedelta(days=VALUE_DAYS))]
    deal_value = float(round(s_old["amount"].sum() / len(old))) if len(old) else 0.0

    f["client_id"] = np.where(won, f["seller_id"], f["mql_id"])
    f["origin_channel"] = _origin_channel(f["origin"])
    if channel == "segment":
        seg = f["business_segment"].astype("string").str.strip()
        f["card_channel"] = seg.where(won & seg.notna() & (seg != ""), f["origin_channel"]).astype(str)
    else:
        f["card_channel"] = f["origin_channel"]
    f["manager"] = np.where(won, f["sr_id"].astype("string").str[:8], None)

    # sample -------------------------------------------------------------------------------------
    sellers_with_sales = np.array(sorted(sales["client_id"].unique()))
    if max_sellers and max_sellers < len(sellers_with_sales):
        rng = np.random.default_rng(seed)
        keep = set(rng.choice(sellers_with_sales, size=max_sellers, replace=False))
        share = max_sellers / len(sellers_with_sales)
        has_sales = f["client_id"].isin(sellers_with_sales)
        draw = rng.random(len(f)) < share
        f = f.loc[(has_sales & f["client_id"].isin(keep)) | (~has_sales & draw)]
        sales = sales.loc[sales["client_id"].isin(keep)]

    # clients ------------------------------------------------------------------------------------
    sel = d["sellers"].set_index("seller_id")
    funnel = f.drop_duplicates("client_id").set_index("client_id")
    ids = sorted(set(sales["client_id"]) | set(funnel.index))
    is_lead = pd.Index(ids).isin(funnel.index[funnel["status"] != "won"])
    fz = funnel.reindex(ids)
    clients = pd.DataFrame({
        "client_id": ids,
        "name": [("Lead " if lead else "Seller ") + i[:8] for i, lead in zip(ids, is_lead)],
        "channel": fz["card_channel"].fillna("marketplace").to_numpy(),
        "region": sel["seller_state"].reindex(ids).to_numpy(),
        "manager": fz["manager"].to_numpy(),
        "reported_turnover": pd.to_numeric(fz["declared_monthly_revenue"], errors="coerce").where(
            lambda x: x > 0).to_numpy(),
        "catalog_size": pd.to_numeric(fz["declared_product_catalog_size"], errors="coerce").to_numpy(),
    })

    # deals --------------------------------------------------------------------------------------
    planned = np.where(f["status"] == "won", f["won_date"].dt.normalize(),
                       f["first_contact_date"] + pd.Timedelta(days=lag_days))
    planned = pd.to_datetime(planned).to_period("M").strftime("%Y-%m")
    closed_date = np.where(f["status"] == "won", f["won_date"].dt.normalize(),
                           np.where(f["status"] == "lost", f["first_contact_date"] + pd.Timedelta(days=open_days),
                                    pd.NaT))
    deals = pd.DataFrame({
        "deal_id": f["mql_id"].to_numpy(), "client_id": f["client_id"].to_numpy(), "amount": deal_value,
        "probability": round(p_win, 4), "stage": ("mql/" + f["origin"].fillna("unknown").str.strip()).to_numpy(),
        "planned_month": planned, "status": f["status"].to_numpy(), "manager": f["manager"].to_numpy(),
        "created_date": f["first_contact_date"].dt.normalize().to_numpy(),
        "closed_date": pd.to_datetime(closed_date).to_numpy(),
    }).sort_values("deal_id", ignore_index=True)
    sales = sales.sort_values(["date", "client_id", "doc_id"], ignore_index=True)
    out = {"clients": clients, "sales": sales, "deals": deals}
    out["clients"].attrs.update(later_lines=later, deal_value=deal_value, p_win=p_win, lag_days=lag_days)
    return out


def main(argv=None) -> int:
    ap = common.parser(__doc__.splitlines()[0])
    ap.add_argument("--as-of", default="2018-09-01", help="the snapshot date of the case (default 2018-09-01)")
    ap.add_argument("--open-days", type=int, default=180, help="a lead not won this many days after first "
                    "contact is lost (default 180)")
    ap.add_argument("--max-sellers", type=int, default=0, help="seeded sample of N sellers with sales (0 = all)")
    ap.add_argument("--channel", choices=("origin", "segment"), default="origin")
    ap.add_argument("--with-freight", action="store_true", help="amount = price + freight_value")
    a = ap.parse_args(argv)
    t = convert(a.src or None, as_of=a.as_of, open_days=a.open_days, max_sellers=a.max_sellers, seed=a.seed,
                channel=a.channel, with_freight=a.with_freight)
    m = t["clients"].attrs
    readme = (f"# Olist seller funnel as a case (snapshot {a.as_of})\n\nMade by data/real/olist.py "
              f"(open_days={a.open_days}, max_sellers={a.max_sellers}, seed={a.seed}, channel={a.channel}, "
              f"with_freight={a.with_freight}). Deal value {m['deal_value']:,.0f} BRL, stated probability "
              f"{m['p_win']:.3f}, median days to win {m['lag_days']}; {m['later_lines']:,} order items from "
              f"{a.as_of} on left out. Data: CC BY-NC-SA 4.0 (Olist).\nRun with `-p as_of={a.as_of} "
              "-p currency=BRL`.\n")
    out = common.write_case(a.out_dir, t, readme)
    print(f"{out}: {common.summary_line(t)}; deal value {m['deal_value']:,.0f}, stated probability "
          f"{m['p_win']:.3f}, median days to win {m['lag_days']}; {m['later_lines']:,} order items from {a.as_of} "
          f"on left out. Run with -p as_of={a.as_of} -p currency=BRL")
    return 0


if __name__ == "__main__":
    sys.exit(main())
