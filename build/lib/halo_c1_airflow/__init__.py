"""Airflow classes for halo-c1 that must be importable by path (the triggerer imports triggers by
classpath): kept out of `halo_c1`, which stays free of Airflow except `halo_c1.hooks`."""
