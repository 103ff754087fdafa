"""Session reports: one self-contained HTML file per session (``engine.report.html.write_report``).

A report is a pure function of the session's events: it folds them with ``projections.evolve``
(nothing else), so the numbers it shows are the ones ``tradetape replay`` prints and the digest it
shows is the replay digest. It embeds its plots as PNG data and references nothing outside the
file, so it can be mailed, archived next to the tape and opened offline; the same events always
give the same bytes.
"""
