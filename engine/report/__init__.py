"""Session reports: one self-contained HTML file per session (``engine.report.html.write_report``).

A report is a pure function of the session's events: it folds them with ``projections.evolve``
(nothing else), so the numbers it shows are the ones ``tradetape replay`` prints and the digest it
shows is the replay digest. Its charts are interactive plotly charts on the market's own clock
(``clock``), with plotly.js inline once; it references nothing outside the file, so it can be
mailed, archived next to the tape and opened offline; the same events always give the same
bytes. ``tradetape report`` (``engine.cli.report_cmds``) writes it for any stored session, the
demo for its paper sessions. The calibration page (``calibrate_html``) keeps matplotlib PNGs.
"""
