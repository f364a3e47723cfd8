"""The halo-c1 view's app, imported by `halo_c1_plugin.LazyApp` on the first request (see `app.py`)."""
