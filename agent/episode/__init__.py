"""One episode: its lifecycle (subject + investigator + condition in; transcript, prediction, score out) and the transcript format."""
