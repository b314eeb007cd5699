"""Seeded synthetic cases with known truth, for tests, benchmarks and the bundled sample."""
from kbanalysis.synth.case import SyntheticCase, inn_check_ok, generate_case, write_case, sample_case
__all__ = ['SyntheticCase', 'inn_check_ok', 'generate_case', 'write_case', 'sample_case']
