"""The report: funnel, conversion, velocity, handoff, cost and calibration from the store's facts.

Pure computations (facts, periods, funnel, bands, spend, calibration, handoff, build) with the IO at
the edges: connector/commands/report.py reads the store and the spend file, connector/dashboard
draws the same dict as charts.
"""
