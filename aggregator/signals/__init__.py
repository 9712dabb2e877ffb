"""Signals: time series that channels observe about reports (social engagement over
time), shown on the ticket. The virality detector reads them."""
