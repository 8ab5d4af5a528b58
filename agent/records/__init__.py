"""What an episode is and what it leaves behind: its settings (`config.EpisodeConfig`, with the budget
`limits.Limits`), the versioned transcript format (`transcript`) and the recorder every event goes
through (`recorder`). Everything above this layer reads and writes episodes through these types."""
