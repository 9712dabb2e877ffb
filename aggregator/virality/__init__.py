"""Online burst ("going viral") detection for report and mention counts."""
