"""statsforecast is installed by `make setup` (pinned, --no-deps: it declares pandas<3, Nixtla/statsforecast#1182)
and runs on the project's pandas: it imports, and a small rolling-origin backtest gives hand-checkable figures."""
import numpy as np
import pandas as pd
import pytest


def test_statsforecast_imports_and_cross_validation_runs():
    from statsforecast import StatsForecast
    from statsforecast.models import Naive, SeasonalNaive

    y = np.tile([10.0, 20.0, 30.0, 40.0], 6)  # season of 4, no noise
    df = pd.DataFrame({"unique_id": "a", "ds": pd.date_range("2022-01-01", periods=len(y), freq="MS"), "y": y})
    cv = StatsForecast(models=[Naive(), SeasonalNaive(season_length=4)], freq="MS", n_jobs=1).cross_validation(
        df=df, h=2, n_windows=3, step_size=1)
    assert len(cv) == 3 * 2
    assert cv["SeasonalNaive"].to_numpy() == pytest.approx(cv["y"].to_numpy())  # a pure season is repeated exactly
    # naive repeats the last value before each cutoff
    last = df.set_index("ds")["y"]
    assert cv["Naive"].to_numpy() == pytest.approx(cv["cutoff"].map(last).to_numpy())
