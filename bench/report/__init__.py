"""Reports read run records only: tables, plots and the leaderboard never retrain anything."""
