"""The `smartgate` command, site settings and the wiring that starts services."""
