"""The Airflow glue of halo-c1, the one package that imports Airflow (`halo_c1` is plain Python),
organised by what it adapts: `settings` (connections and variables to the domain's settings),
`targets` (the delivery target), `stage` (the stage wrapper and Airflow's verdicts), `schedule`,
`params`, `alerts` (the failure notifier), `housekeeping` (retention), `connector` (C1 service mode's
services) and `c1_trigger` (the deferrable operator and the trigger the triggerer imports by path).
Airflow is imported inside functions where a DAG file imports the module at parse time."""
