"""The Great Expectations quality gate over the curated tables, with Data Docs and dq_history."""

from halo_c1.quality.gate import QualityGateError, raise_for_errors, run_quality_gate

__all__ = ["QualityGateError", "raise_for_errors", "run_quality_gate"]
