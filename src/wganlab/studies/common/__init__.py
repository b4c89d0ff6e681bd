"""What the studies share: `registry` (finding them), `study` (plan, run and collect one or all), `runner` (runs
in a local pool or as printed commands), `report` (report.md, report.html, CSVs), `style` (figures), `toys` (the
toy-data runs and their measurements) and `images` (the image cell grid: data, networks, recipes, sizes)."""
