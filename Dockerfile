# Astro Runtime 3.3 (Apache Airflow 3.3) on Python 3.11, the project's Python (pyproject.toml).
# The -base variant runs no ONBUILD steps: requirements.txt pins Airflow itself (it is the lock file of
# the development venv), so instead of installing it over the image's Airflow, the image installs the
# domain package with the ranges of pyproject.toml, which the image's Airflow and providers satisfy.
FROM astrocrpublic.azurecr.io/runtime:3.3-2-python-3.11-base

# OS packages, one per line (none needed today: every dependency ships wheels).
USER root
COPY packages.txt .
RUN if grep -q '[^[:space:]]' packages.txt; then \
      apt-get update && xargs -r apt-get install -y --no-install-recommends < packages.txt \
      && rm -rf /var/lib/apt/lists/*; \
    fi
USER astro

# The project: dags/, include/ (the halo_c1 package), plugins/. `pip install .` puts halo_c1 on every
# component's path (scheduler, dag-processor, api-server, workers) with no PYTHONPATH setting.
COPY --chown=astro:0 . .
RUN pip install --no-cache-dir ".[s3,azure,alerts]"
