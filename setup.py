"""Package discovery for the one import namespace `tracr_agent`.

The user's top level keeps `agent/` and `tools/`; installed, they become
`tracr_agent.agent` and `tracr_agent.tools`, so site-packages never gets bare
`agent`/`tools` packages that would collide with another distribution's.
Everything else about the project is in pyproject.toml.
"""

from setuptools import find_packages, setup

TOP = ("agent", "tools")
setup(
    packages=[f"tracr_agent.{p}" for p in find_packages(include=[f"{t}*" for t in TOP])],
    package_dir={f"tracr_agent.{t}": t for t in TOP},
)
