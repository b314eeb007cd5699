"""nbval runs the committed notebooks as they are (their parameters cell has empty case_dir and run_dir);
the workbook then reads the case and run folders from these environment variables."""
import os
import tempfile
from pathlib import Path


def pytest_configure(config):
    if os.environ.get("KBANALYSIS_CASE_DIR"):
        return
    root = Path(tempfile.mkdtemp(prefix="kb-nbval-"))
    from kbanalysis.synth.case import sample_case

    sample_case(root / "case", n_clients=300, seed=3)
    os.environ["KBANALYSIS_CASE_DIR"] = str(root / "case")
    os.environ["KBANALYSIS_RUN_DIR"] = str(root / "run")
    os.environ.setdefault("MPLBACKEND", "Agg")
