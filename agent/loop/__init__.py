"""The investigation loop: the LangGraph graph and what the agent is told."""
