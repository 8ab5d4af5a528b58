"""Interactive use: steering a live episode, and the lab where a person investigates by hand."""
