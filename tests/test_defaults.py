"""Each run parameter's default is defined once, in ``kbanalysis.run.params``; a function of the package
that takes a parameter of the same name either requires it or gives it that very default."""
import importlib
import inspect
import pkgutil

import pytest

import kbanalysis
from kbanalysis.run import params as P

#: argument names that are run parameters in name only (another meaning in that function)
HOMONYMS = {
    ("kbanalysis.synth.case", "generate_case", "horizon"),  # months of simulated future, not the forecast's horizon
    ("kbanalysis.synth.case", "sample_case", "seed"),
    ("kbanalysis.synth.case", "generate_case", "seed"),
    ("kbanalysis.synth.case", "generate_case", "as_of"),  # the simulated case's own analysis date
    ("kbanalysis.synth.case", "__init__", "seed"),
    ("kbanalysis.forecast.model", "stock_by_group", "as_of"),  # the name of the stock table's date column
    ("kbanalysis.run.backtest", "online_retail_backtest", "as_of"),  # the cut of a published backtest
}
#: defaults that mean "not given" (the caller's value or the parameter's default is used)
UNSET = (None, (), [], {}, "")


def _functions():
    for info in pkgutil.walk_packages(kbanalysis.__path__, "kbanalysis."):
        mod = importlib.import_module(info.name)
        for name, obj in vars(mod).items():
            if inspect.isclass(obj) and obj.__module__ == mod.__name__:
                for m, f in vars(obj).items():
                    if inspect.isfunction(f):
                        yield mod.__name__, f"{name}.{m}", f
            elif inspect.isfunction(obj) and obj.__module__ == mod.__name__:
                yield mod.__name__, name, obj


def _disagreements():
    out = []
    for mod, name, f in _functions():
        for arg in inspect.signature(f).parameters.values():
            if arg.name in P.PARAMS and arg.default is not inspect.Parameter.empty and (
                    mod, name.split(".")[-1], arg.name) not in HOMONYMS:
                want = P.PARAMS[arg.name].default
                if arg.default != want and not (arg.default in UNSET or repr(arg.default) == "<factory>"):
                    out.append(f"{mod}.{name}({arg.name}={arg.default!r}): kbanalysis.run.params says {want!r}")
    return out


def test_signature_defaults_agree_with_the_parameter_table():
    assert _disagreements() == []


@pytest.mark.parametrize("name", sorted(P.PARAMS))
def test_every_parameter_has_a_meaning_and_a_stage(name):
    p = P.PARAMS[name]
    assert p.meaning and p.stage in ("general",) + P.STAGES
