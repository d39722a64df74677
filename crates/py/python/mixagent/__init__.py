"""mixagent: learned data mixing for continual pre-training.

The `Controller` steers a trainer's data mixture stage by stage from the model's own feedback,
under the trained agent (`Controller.load(artifact, ...)`) or any baseline policy
(`Controller("fixed:0.7", ...)`). See docs/controller.md in the repository.
"""

from ._mixagent import Controller, MixagentError, __version__

__all__ = ["Controller", "MixagentError", "__version__"]
