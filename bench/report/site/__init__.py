"""`bench site`: the leaderboard as a static website (HTML, CSS and a little JavaScript) from run records only.

content.py gathers what the pages show (the report functions: runs_frame, build_table, leaderboard_frame, DeLong),
tables.py turns it into accessible, sortable HTML tables, images.py draws the figures as PNG, pages.py renders the
Jinja2 templates in templates/, and build.py writes the folder. No clocks, no absolute paths, no CDN: the same run
records give the same bytes, and the pages work from file:// as from any static host.
"""
