"""PCA reconstruction error: the classical sanity baseline."""
