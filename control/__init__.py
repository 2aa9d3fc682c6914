"""Clearance, gate link, planners, scheduling and the field-device simulator (issues 4, 6, 7)."""
