"""What a person sees: the live view of transcript events."""
