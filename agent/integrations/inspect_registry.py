"""What the `inspect_ai` setuptools entry point loads (pyproject.toml): importing it registers the
task `tracr_agent/interp`, its solvers (`tracr_agent/episode_setup`, `tracr_agent/investigator`) and
its scorer (`tracr_agent/tracr_scorer`) with Inspect, so `inspect eval tracr_agent/interp` finds them."""

from tracr_agent.agent.integrations.inspect_task import (  # noqa: F401 (registered on import)
    episode_setup,
    interp,
    investigator,
    tracr_scorer,
)
from tracr_agent.agent.integrations.inspect_tools import tracr_tools  # noqa: F401
