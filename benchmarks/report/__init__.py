"""Turns the rounds' figures into the summary, the Markdown table and the charts.

summary.py       every (case, runner) figure aggregated over the rounds
lookup.py        one median, one per-round ratio, why a figure is missing
target_checks.py the issue-7 targets: which rows a run reports, each met or missed
peer_targets.py  issue 26's: against the best fp32 peer and OpenVINO's default
target_rows.py   one target row: planned, then met, missed or not applicable
reference.py     ratios quoted for comparison, not targets
tables.py        results.md, one function per section
formatting.py    how a figure is written in a cell
charts.py        the PNG charts (the headline's is in benchmarks/headline.py)
"""

from benchmarks.report.charts import charts
from benchmarks.report.summary import summarise
from benchmarks.report.tables import markdown

__all__ = ["charts", "markdown", "summarise"]
