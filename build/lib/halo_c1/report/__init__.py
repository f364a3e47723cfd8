"""The reports people read: one self-contained HTML page per snapshot, its change log, and the index.

Pages are rendered with Jinja2 (autoescape on: every HaloITSM value is escaped), carry their styles
inline and load nothing from anywhere, so they open offline, from a bucket download or in the
Airflow plugin alike. GX Data Docs stay as the drill-down (`halo_c1.quality.offline_docs`).
"""

from halo_c1.report.index import write_reports_index
from halo_c1.report.page import write_snapshot_report

__all__ = ["write_reports_index", "write_snapshot_report"]
