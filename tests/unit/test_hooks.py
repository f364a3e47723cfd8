"""The Airflow glue's own rules (values that need no Airflow connection or variable)."""

import pytest

from halo_c1.hooks import ConfigurationError, max_drop_ratio


def test_the_runs_threshold_wins_and_is_validated():
    assert max_drop_ratio(0.35) == pytest.approx(0.35)
    with pytest.raises(ConfigurationError, match="strictly between 0 and 1"):
        max_drop_ratio(1.5)
